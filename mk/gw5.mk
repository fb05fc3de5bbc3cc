# mk/gw5.mk — the gateway's personalization workflow (daemon/workflow.c and friends).
#
#   make bench-gw5   push efficiency at 115200 baud (16 ms turn latency) and 921600 baud (1 ms)
#                    against a paced microt-sim, push time of the ProxylessNAS part model at
#                    921600 baud, and samples ingested per second; printed and merged into
#                    $(B)/bench.json (about a minute: the 115200 baud push alone is ~36 s)

.PHONY: bench-gw5
bench: bench-gw5

$(B)/bench/bench_gw5: $(call obj,tests/bench/bench_gw5.c) $(call obj,$(TEST_HARNESS)) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(call obj,$(TEST_HARNESS)) $(LINK_LIBS)

bench-gw5: $(PROGRAMS) $(B)/bench/bench_gw5
	@BENCH_JSON=$(B)/bench.json PYTHON=$(PYTHON) MICROT_BUILD=$(B) $(B)/bench/bench_gw5
