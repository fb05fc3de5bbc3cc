# mk/link.mk — the link layer's extra targets.
#
#   make bench-link   frame overhead (wire bytes per payload byte) for 64 B and 1 KiB payloads
#                     and host CRC-32 throughput, printed and merged into $(B)/bench.json
#
# The fuzz targets of proto/ also compile the nanopb runtime from its Debian source package
# (third_party/nanopb, see scripts/deps.sh) instead of linking the host library, so libFuzzer's
# coverage instrumentation reaches into pb_decode: the protobuf decode path is what they fuzz.

.PHONY: bench-link
bench: bench-link

$(B)/bench/bench_link: tests/bench/bench_link.c $(LIB_PROTO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_PROTO) -lprotobuf-nanopb

bench-link: $(B)/bench/bench_link
	@BENCH_JSON=$(B)/bench.json PYTHON=$(PYTHON) $(B)/bench/bench_link

LINK_FUZZ_NANOPB := $(NANOPB_SRC)/pb_common.c $(NANOPB_SRC)/pb_decode.c $(NANOPB_SRC)/pb_encode.c
$(B)/fuzz/fuzz_link $(B)/fuzz/fuzz_proto: $(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS) | $(GEN_H) $(NANOPB_SRC)/pb_decode.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -I$(NANOPB_SRC) -o $@ $< $(FUZZ_LIB_SRCS) $(LINK_FUZZ_NANOPB) $(HOST_LIBS)
