# MicroT fleet gateway — top-level build.
#
#   make            build/microtd, build/microtctl, build/microt-sim
#   make deps       install the Debian packages (root, idempotent)
#   make test       every test suite, then the runner's summary
#   make run        daemon + three simulated boards + dashboard on http://127.0.0.1:8080
#   make firmware-check   compile the portable core for Cortex-M4F/M7, print its size
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each (bounded)
#   make bench      benchmarks; figures printed and written to build/bench.json
#
# Sources are found by folder, so a new module is a new .c/.h pair and nothing else. Programs'
# main() live in files named *_main.c. Areas with extra targets add a fragment in mk/*.mk.

B ?= build
CC ?= cc
PYTHON ?= /usr/bin/python3
NANOPB_GEN ?= nanopb_generator.py

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
INCS := -I$(B)/gen -Iproto -Ifirmware/core -Idaemon -Itests/harness
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 $(WARN) $(INCS) -D_GNU_SOURCE -MMD -MP -fno-strict-aliasing
HOST_LIBS := -lmicrohttpd -lsqlite3 -lserialport -ljansson -lcurl -lstb -lz -lprotobuf-nanopb -lpthread -lm

GEN_C := $(B)/gen/microt.pb.c
GEN_H := $(B)/gen/microt.pb.h

PROTO_SRCS := $(shell find proto -name "*.c") $(GEN_C)
CORE_SRCS := $(shell find firmware/core -name "*.c")
HOST_SRCS := $(filter-out %_main.c,$(wildcard firmware/ports/host/*.c))
DAEMON_SRCS := $(filter-out %_main.c,$(shell find daemon -name '*.c' 2>/dev/null))

obj = $(patsubst %.c,$(B)/obj/%.o,$(patsubst $(B)/%,%,$(1)))

LIB_PROTO := $(B)/lib/libmicrot_proto.a
LIB_CORE := $(B)/lib/libmicrot_core.a
LIB_HOST := $(B)/lib/libmicrot_host.a
LIB_DAEMON := $(B)/lib/libmicrotd.a
ALL_LIBS := $(LIB_DAEMON) $(LIB_HOST) $(LIB_CORE) $(LIB_PROTO)
LINK_LIBS = -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(HOST_LIBS)

# A program is built once its main exists (the tree grows area by area).
PROGRAMS := $(if $(wildcard daemon/microtd_main.c),$(B)/microtd) \
            $(if $(wildcard daemon/microtctl_main.c),$(B)/microtctl) \
            $(if $(wildcard firmware/ports/host/sim_main.c),$(B)/microt-sim)
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRCS))
TEST_HARNESS := $(wildcard tests/harness/*.c)

.PHONY: all deps test run clean firmware-check fuzz bench results
.SECONDARY:
all: $(PROGRAMS)

deps:
	@./scripts/deps.sh

# ---- generated protobuf code ----
$(GEN_C) $(GEN_H): proto/microt.proto proto/microt.options
	@mkdir -p $(B)/gen
	$(NANOPB_GEN) -q -I proto -D $(B)/gen -f proto/microt.options microt.proto

# ---- objects and libraries ----
$(B)/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB_PROTO): $(call obj,$(PROTO_SRCS))
$(LIB_CORE): $(call obj,$(CORE_SRCS))
$(LIB_HOST): $(call obj,$(HOST_SRCS))
$(LIB_DAEMON): $(call obj,$(DAEMON_SRCS))
$(ALL_LIBS):
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^ $(if $^,,$(B)/obj/empty.o)

$(B)/obj/empty.o:
	@mkdir -p $(dir $@)
	echo 'typedef int microt_empty_unit;' | $(CC) -x c -c - -o $@
$(LIB_HOST) $(LIB_DAEMON) $(LIB_CORE): | $(B)/obj/empty.o

$(B)/microtd: $(call obj,daemon/microtd_main.c) $(ALL_LIBS)
	$(CC) $(CFLAGS) -o $@ $< $(LINK_LIBS)
$(B)/microtctl: $(call obj,daemon/microtctl_main.c) $(ALL_LIBS)
	$(CC) $(CFLAGS) -o $@ $< $(LINK_LIBS)
$(B)/microt-sim: $(call obj,firmware/ports/host/sim_main.c) $(ALL_LIBS)
	$(CC) $(CFLAGS) -o $@ $< $(LINK_LIBS)

# ---- tests ----
$(B)/tests/%: $(call obj,tests/%.c) $(call obj,$(TEST_HARNESS)) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(call obj,$(TEST_HARNESS)) $(LINK_LIBS) -lcmocka

test: $(PROGRAMS) $(TEST_BINS) firmware-check
	@B=$(B) PYTHON=$(PYTHON) ./scripts/run-tests.sh

# ---- running it ----
run: deps all
	@B=$(B) ./scripts/run.sh

# ---- the portable core on Cortex-M (no heap, no libc I/O) ----
ARM_CC := arm-none-eabi-gcc
NANOPB_SRC := third_party/nanopb
ARM_SRCS := $(shell find proto -name "*.c") $(CORE_SRCS) $(GEN_C) $(wildcard $(NANOPB_SRC)/pb_*.c)
ARM_CFLAGS := -std=c99 -Os -g -ffunction-sections -fdata-sections -Wall -Wextra -Werror \
  -Wno-unused-parameter -I$(NANOPB_SRC) -I$(B)/gen -Iproto -Ifirmware/core
ARM_M4 := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
ARM_M7 := -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16
arm_obj = $(patsubst %.c,$(B)/arm/$(1)/%.o,$(patsubst $(B)/%,%,$(2)))

$(NANOPB_SRC)/pb_decode.c:
	./scripts/deps.sh

define ARM_TARGET
$(B)/arm/$(1)/%.o: %.c | $(GEN_H) $(NANOPB_SRC)/pb_decode.c
	@mkdir -p $$(dir $$@)
	$(ARM_CC) $(ARM_CFLAGS) $(2) -c $$< -o $$@
$(B)/arm/$(1)/gen/%.o: $(B)/gen/%.c
	@mkdir -p $$(dir $$@)
	$(ARM_CC) $(ARM_CFLAGS) $(2) -c $$< -o $$@
$(B)/arm/$(1)/libcore.a: $$(call arm_obj,$(1),$$(ARM_SRCS))
	@rm -f $$@
	arm-none-eabi-ar rcs $$@ $$^
endef
$(eval $(call ARM_TARGET,m4,$(ARM_M4)))
$(eval $(call ARM_TARGET,m7,$(ARM_M7)))

firmware-check: $(B)/arm/m4/libcore.a $(B)/arm/m7/libcore.a
	@./scripts/firmware-check.sh $(B)/arm/m4/libcore.a $(B)/arm/m7/libcore.a

# ---- fuzzing (clang + libFuzzer), bounded ----
FUZZ_SECONDS ?= 30
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined $(INCS) -D_GNU_SOURCE -DMICROT_FUZZ
# Lazy (=): mk/db.mk defines the generated SQL source after this point.
FUZZ_LIB_SRCS = $(PROTO_SRCS) $(CORE_SRCS) $(HOST_SRCS) $(DAEMON_SRCS) $(DB_SQL_C)
$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS) | $(GEN_H)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRCS) $(HOST_LIBS)
fuzz: $(FUZZ_BINS)
	@B=$(B) FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/run-fuzz.sh $(FUZZ_BINS)

clean:
	rm -rf $(B)

-include mk/*.mk
-include $(shell find $(B)/obj $(B)/arm -name '*.d' 2>/dev/null)

# Each area adds its benchmark steps as prerequisites of `bench` in its mk/*.mk fragment.
bench: all
	@echo "bench: figures in $(B)/bench.json"; cat $(B)/bench.json 2>/dev/null || true
