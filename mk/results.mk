# mk/results.mk — `make results`: MicroT personalization on real images (docs/results.md,
# build/results.json). Two backbones from ../shared/models (MICROT_SHARED overrides), Fashion-MNIST
# from Debian's dataset-fashion-mnist; each model runs in its own process (2 cores), then the
# sklearn reference and the report. Sizes can be changed: make results RESULTS_TRAIN=60 ...
# The *_pad.tflite files are the same networks with explicit PAD + k x k kernels (identical outputs,
# ../shared/models/README.md); the engine folds the PAD, so MAC counts are the true k x k ones.

RESULTS_BIN := $(B)/microt-results
RESULTS_SHARED ?= $(or $(MICROT_SHARED),../shared)
RESULTS_TRAIN ?= 120
RESULTS_TEST ?= 100
RESULTS_SEED ?= 1
RESULTS_CUT ?= 8
RESULTS_MODELS ?= proxyless-w0.3 mcunet-5fps
RESULTS_CMD = make results RESULTS_TRAIN=$(RESULTS_TRAIN) RESULTS_TEST=$(RESULTS_TEST) RESULTS_SEED=$(RESULTS_SEED) RESULTS_CUT=$(RESULTS_CUT)

$(RESULTS_BIN): $(call obj,tools/results/results_main.c) $(ALL_LIBS)
	$(CC) $(CFLAGS) -o $@ $< $(LINK_LIBS) -lz

# The sklearn agreement test (tests/test_heads_sklearn.py) runs the program on a small sample.
test: $(RESULTS_BIN)

results: $(RESULTS_BIN)
	@mkdir -p $(B)/results docs
	@pids=""; for m in $(RESULTS_MODELS); do \
	  echo "results: $$m ($(RESULTS_TRAIN) train + $(RESULTS_TEST) test images per class)"; \
	  $(RESULTS_BIN) --model $(RESULTS_SHARED)/models/$${m}_pad.tflite --name $$m --cut $(RESULTS_CUT) \
	    --train-per-class $(RESULTS_TRAIN) --test-per-class $(RESULTS_TEST) --seed $(RESULTS_SEED) \
	    --out $(B)/results/$$m & pids="$$pids $$!"; \
	done; st=0; for p in $$pids; do wait $$p || st=1; done; exit $$st
	$(PYTHON) tools/results/results_report.py --md docs/results.md --json $(B)/results.json \
	  --command "$(RESULTS_CMD)" $(addprefix $(B)/results/,$(RESULTS_MODELS))
