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
