# Engine (firmware/core/engine.c, firmware/core/nn/, daemon/import/model_import.c):
#   $(B)/tests/data/kernel_cases.bin  per-op cases from tests/data/gen_kernel_cases.py (numpy
#                                     reference of TFLite's integer kernels), read by test_kernels
#   bench-engine                      arena peaks and instructions per MAC (callgrind), into
#                                     $(B)/bench.json
ENGINE_CASES := $(B)/tests/data/kernel_cases.bin

$(ENGINE_CASES): tests/data/gen_kernel_cases.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/data/gen_kernel_cases.py $@

test: $(ENGINE_CASES)
$(B)/tests/test_kernels: | $(ENGINE_CASES)

# Small .tflite models the importer must accept or refuse (tests/test_model_import.c).
ENGINE_IMPORT_CASES := $(B)/tests/data/import/manifest.txt
$(ENGINE_IMPORT_CASES): tests/data/gen_import_cases.py tests/data/gen_bad_tflite.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/data/gen_import_cases.py $(dir $@)

test: $(ENGINE_IMPORT_CASES)
$(B)/tests/test_model_import: | $(ENGINE_IMPORT_CASES)

# Fuzz seeds for fuzz_model_import: the generated importer cases and the small shared models.
.PHONY: engine-corpus
engine-corpus: $(ENGINE_IMPORT_CASES)
	@mkdir -p $(B)/fuzz/corpus/fuzz_model_import
	@cp $(B)/tests/data/import/*.tflite $(B)/fuzz/corpus/fuzz_model_import/
	@if [ -f $(TFLITE_SHARED)/models/hello_world_int8.tflite ]; then \
	  cp $(TFLITE_SHARED)/models/hello_world_int8.tflite $(B)/fuzz/corpus/fuzz_model_import/; fi
fuzz: engine-corpus

# Benchmark program and its driver (valgrind's callgrind counts instructions per stage).
$(B)/engine_bench: $(call obj,tests/bench/engine_bench_main.c) $(ALL_LIBS)
	$(CC) $(CFLAGS) -o $@ $< $(LINK_LIBS)

.PHONY: bench-engine
bench-engine: $(B)/engine_bench
	@B=$(B) MICROT_SHARED=$(TFLITE_SHARED) ./tests/bench/engine_bench.sh
bench: bench-engine

# The importer's fuzz target links only what it exercises (the reader, the importer, the engine).
ENGINE_FUZZ_SRCS := daemon/import/model_import.c daemon/import/tflite_reader.c daemon/mt_err.c \
  firmware/core/engine.c firmware/core/sha256.c $(wildcard firmware/core/nn/*.c)
$(B)/fuzz/fuzz_model_import: tests/fuzz/fuzz_model_import.c $(ENGINE_FUZZ_SRCS) | $(GEN_H)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(ENGINE_FUZZ_SRCS) -lm
