# mk/personalize.mk — the board side of the personalization workflow (model store, samples,
# training, staged inference, capture): its tests drive the core in-process through the host
# port (firmware/ports/host headers) and the simulator over a pty.
PERSONALIZE_SIM_USERS := tests/test_model_store.c tests/test_personalize.c
$(call obj,$(PERSONALIZE_SIM_USERS)): CFLAGS += -Ifirmware/ports/host

# bench-sim-push: model push throughput over the simulator's paced line (docs/protocol.md §8).
$(call obj,tests/bench/sim_push_bench_main.c): CFLAGS += -Ifirmware/ports/host -Itests
$(B)/sim-push-bench: $(call obj,tests/bench/sim_push_bench_main.c) $(call obj,$(TEST_HARNESS)) $(ALL_LIBS)
	$(CC) $(CFLAGS) -o $@ $< $(call obj,$(TEST_HARNESS)) $(LINK_LIBS)

.PHONY: bench-sim-push
bench-sim-push: $(B)/sim-push-bench $(B)/microt-sim
	@B=$(B) ./tests/bench/sim_push_bench.sh
bench: bench-sim-push

# The core's request handlers under libFuzzer (tests/fuzz/fuzz_core_rpc.c): the firmware core and
# the host port only (the generic fuzz rule also links the daemon, whose generated SQL it lacks).
PERSONALIZE_FUZZ_SRCS := $(PROTO_SRCS) $(CORE_SRCS) $(HOST_SRCS)
$(B)/fuzz/fuzz_core_rpc: tests/fuzz/fuzz_core_rpc.c $(PERSONALIZE_FUZZ_SRCS) | $(GEN_H)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Ifirmware/ports/host -o $@ $< $(PERSONALIZE_FUZZ_SRCS) -lprotobuf-nanopb -lm
