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
