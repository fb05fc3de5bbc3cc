# TFLite reader (daemon/import/tflite_reader.c): generated test cases and fuzz seeds.
#   $(B)/tests/data/tflite/   good and corrupt .tflite cases + manifest.txt, made by
#                             tests/data/gen_bad_tflite.py, read by build/tests/test_tflite_reader
#   tflite-corpus             seeds tests/fuzz/corpus/fuzz_tflite_reader (real models + cases)
TFLITE_CASES := $(B)/tests/data/tflite/manifest.txt

$(TFLITE_CASES): tests/data/gen_bad_tflite.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/data/gen_bad_tflite.py $(dir $@)

.PHONY: tflite-corpus
tflite-corpus:
	@./tests/fuzz/make_tflite_corpus.sh

test: $(TFLITE_CASES)
fuzz: tflite-corpus

# Reference reader for the cross-check test: Python code flatc generates from the shared schema
# (a build-time copy without the three `(deprecated)` markers Debian's flatc 2.0.8 rejects).
TFLITE_SHARED ?= $(or $(MICROT_SHARED),../shared)
TFLITE_SCHEMA := $(TFLITE_SHARED)/tflite/schema.fbs
TFLITE_PY := $(B)/gen/tflite_py/tflite/Model.py

$(TFLITE_PY): $(TFLITE_SCHEMA)
	@mkdir -p $(B)/gen/tflite_py
	sed -e 's/ = 205 (deprecated)/ = 205/' -e 's/ReduceWindowOptions (deprecated)/ReduceWindowOptions/g' \
	  $< >$(B)/gen/tflite_py/schema.fbs
	flatc --python -o $(B)/gen/tflite_py $(B)/gen/tflite_py/schema.fbs

test: $(if $(wildcard $(TFLITE_SCHEMA)),$(TFLITE_PY))
