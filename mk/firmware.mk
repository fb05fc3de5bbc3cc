# mk/firmware.mk — firmware images for the boards (included by the Makefile).
#
#   make firmware     build/firmware/<board>/microt.elf and .bin for every board, plus
#                     selftest.elf for the QEMU boards; prints flash and RAM use per board
#   make firmware-selftest   only the QEMU self-test images (what tests/test_qemu.py needs)
#
# The portable core, the proto code and the nanopb runtime come from the Makefile's per-CPU
# libraries ($(B)/arm/m4|m7/libcore.a, the ones firmware-check builds); each board adds its port
# folder, the shared Cortex-M code and its linker script.

FW_BOARDS := qemu-an386 qemu-an500 nucleo-h7a3zi nucleo-l4r5zi
FW_QEMU_BOARDS := qemu-an386 qemu-an500
FW_CM := firmware/ports/cortex-m
FW_CM_SRCS := $(filter-out %_main.c,$(wildcard $(FW_CM)/*.c))
FW_LDFLAGS := -nostartfiles --specs=nano.specs -Wl,--gc-sections -Wl,--no-warn-rwx-segments \
  -L$(FW_CM)
FW_LDLIBS := -Wl,--start-group -lc -lm -lgcc -Wl,--end-group
# Builds the real image only once the core provides its entry points (they land with the lead's
# RPC dispatch); until then `make firmware` builds the self-tests and says so.
FW_CORE_READY := $(shell grep -ls 'microt_core_poll' firmware/core/*.c 2>/dev/null)

FW_CPU_qemu-an386 := m4
FW_CPU_qemu-an500 := m7
FW_CPU_nucleo-h7a3zi := m7
FW_CPU_nucleo-l4r5zi := m4
FW_SRCS_qemu-an386 := $(wildcard firmware/ports/qemu-an386/*.c) \
  $(filter-out %_main.c,$(wildcard firmware/ports/mps2/*.c))
FW_SRCS_qemu-an500 := $(wildcard firmware/ports/qemu-an500/*.c) \
  $(filter-out %_main.c,$(wildcard firmware/ports/mps2/*.c))
FW_SRCS_nucleo-h7a3zi := $(wildcard firmware/ports/nucleo-h7a3zi/*.c) $(wildcard firmware/ports/stm32/*.c)
FW_SRCS_nucleo-l4r5zi := $(wildcard firmware/ports/nucleo-l4r5zi/*.c) $(wildcard firmware/ports/stm32/*.c)
FW_LD_qemu-an386 := firmware/ports/mps2/mps2.ld
FW_LD_qemu-an500 := firmware/ports/mps2/mps2.ld
FW_LD_nucleo-h7a3zi := firmware/ports/nucleo-h7a3zi/link.ld
FW_LD_nucleo-l4r5zi := firmware/ports/nucleo-l4r5zi/link.ld
# The core's static memory per board (firmware/core/personalize.h: "a port for a smaller part
# lowers the two static sizes at build time"). The NUCLEO boards get their own core library with
# the pool sized to what their SRAM holds next to the 192 KiB engine arena and the rest of the
# firmware (~72 KiB), and no camera frame buffer (no camera: capture answers "no camera" before
# the size matters). The QEMU boards (4 MiB) use the core's defaults, the simulator's.
#   H7A3: 1 MiB AXI SRAM - 192 KiB arena - ~72 KiB = 760 KiB -> 736 KiB pool
#   L4R5: 640 KiB - 32 KiB stack - 192 KiB arena - ~72 KiB = 344 KiB -> 320 KiB pool
FW_CORE_DEFS_nucleo-h7a3zi := -DPERSONALIZE_POOL_BYTES=753664u -DCAPTURE_MAX_BYTES=3u
FW_CORE_DEFS_nucleo-l4r5zi := -DPERSONALIZE_POOL_BYTES=327680u -DCAPTURE_MAX_BYTES=3u
FW_CORELIB_qemu-an386 := m4
FW_CORELIB_qemu-an500 := m7
FW_CORELIB_nucleo-h7a3zi := h7a3zi
FW_CORELIB_nucleo-l4r5zi := l4r5zi

FW_INC_qemu-an386 := -Ifirmware/ports/mps2 -DCM_RING_BYTES=16384u
FW_INC_qemu-an500 := -Ifirmware/ports/mps2 -DCM_RING_BYTES=16384u
FW_INC_nucleo-h7a3zi := -Ifirmware/ports/stm32
FW_INC_nucleo-l4r5zi := -Ifirmware/ports/stm32
# `make firmware FW_VERSION=1.2.3` stamps that version into the images (at most 31 printable
# characters); by default they carry MICROT_FW_VERSION (firmware/core/microt_core.h).
FW_VERSION ?=

fw_obj = $(patsubst %.c,$(B)/firmware/$(1)/obj/%.o,$(2))

# $(1) board
define FW_BOARD
FW_FLAGS_$(1) := $$(ARM_CFLAGS) $$(ARM_$$(call fw_upper,$$(FW_CPU_$(1)))) -I$$(FW_CM) \
  -Ifirmware/ports/$(1) $$(FW_INC_$(1)) -DMICROT_BOARD=\"$(1)\"
FW_OBJS_$(1) := $$(call fw_obj,$(1),$$(FW_SRCS_$(1)) $$(FW_CM_SRCS))
FW_LIB_$(1) := $(B)/arm/$$(FW_CORELIB_$(1))/libcore.a
FW_ELF_DEPS_$(1) := $$(FW_OBJS_$(1)) $$(FW_LIB_$(1)) $$(FW_LD_$(1)) $(FW_CM)/cortex-m-sections.ld

$(B)/firmware/$(1)/obj/%.o: %.c | $(GEN_H) $(NANOPB_SRC)/pb_decode.c
	@mkdir -p $$(dir $$@)
	$(ARM_CC) $$(FW_FLAGS_$(1)) -MMD -MP -c $$< -o $$@

$(B)/firmware/$(1)/microt.elf: $$(call fw_obj,$(1),$(FW_CM)/cm_main.c) $$(FW_ELF_DEPS_$(1))
	$(ARM_CC) $$(ARM_$$(call fw_upper,$$(FW_CPU_$(1)))) $(FW_LDFLAGS) -T$$(FW_LD_$(1)) \
	  -Wl,-Map=$$(@:.elf=.map) -o $$@ $$< $$(FW_OBJS_$(1)) $$(FW_LIB_$(1)) $(FW_LDLIBS)

$(B)/firmware/$(1)/selftest.elf: $$(call fw_obj,$(1),firmware/ports/mps2/selftest_main.c) \
  $$(FW_ELF_DEPS_$(1))
	$(ARM_CC) $$(ARM_$$(call fw_upper,$$(FW_CPU_$(1)))) $(FW_LDFLAGS) -T$$(FW_LD_$(1)) \
	  -Wl,-Map=$$(@:.elf=.map) -o $$@ $$< $$(FW_OBJS_$(1)) $$(FW_LIB_$(1)) $(FW_LDLIBS)

$(B)/firmware/$(1)/bench.elf: $$(call fw_obj,$(1),firmware/ports/mps2/bench_main.c) \
  $$(FW_ELF_DEPS_$(1))
	$(ARM_CC) $$(ARM_$$(call fw_upper,$$(FW_CPU_$(1)))) $(FW_LDFLAGS) -T$$(FW_LD_$(1)) \
	  -Wl,-Map=$$(@:.elf=.map) -o $$@ $$< $$(FW_OBJS_$(1)) $$(FW_LIB_$(1)) $(FW_LDLIBS)

# The same bench with the core's plain C reference kernels (-DNN_NO_SIMD), for the comparison.
$(B)/firmware/$(1)/bench-ref.elf: $$(call fw_obj,$(1),firmware/ports/mps2/bench_main.c) \
  $$(FW_ELF_DEPS_$(1)) $(B)/arm/$$(FW_CPU_$(1))ref/libcore.a
	$(ARM_CC) $$(ARM_$$(call fw_upper,$$(FW_CPU_$(1)))) $(FW_LDFLAGS) -T$$(FW_LD_$(1)) \
	  -Wl,-Map=$$(@:.elf=.map) -o $$@ $$< $$(FW_OBJS_$(1)) $(B)/arm/$$(FW_CPU_$(1))ref/libcore.a \
	  $(FW_LDLIBS)
endef
fw_upper = $(if $(filter m4,$(1)),M4,M7)
$(foreach b,$(FW_BOARDS),$(eval $(call FW_BOARD,$(b))))

# Image header (firmware/core/fw_header.h): the binary is stamped after the link
# (scripts/fw_stamp.py fills the size and CRCs), and the stamped 64 bytes are copied back into
# the ELF's .fw_header, so both files carry the same sound header. The .bin is touched last so
# it stays newer than the ELF it was made from.
$(B)/firmware/%/microt.bin: $(B)/firmware/%/microt.elf scripts/fw_stamp.py
	arm-none-eabi-objcopy -O binary $< $@
	$(PYTHON) scripts/fw_stamp.py $@ $(if $(FW_VERSION),--version $(FW_VERSION))
	dd if=$@ of=$@.hdr bs=1 skip=1024 count=64 status=none
	arm-none-eabi-objcopy --update-section .fw_header=$@.hdr $<
	rm -f $@.hdr
	touch $@

FW_SELFTESTS := $(foreach b,$(FW_QEMU_BOARDS),$(B)/firmware/$(b)/selftest.elf \
  $(B)/firmware/$(b)/bench.elf)

# Host half of the engine bench: .tflite -> device image, and the host engine's results.
FW_BENCH_PREP := $(B)/firmware/bench-prep
$(FW_BENCH_PREP): $(call obj,tools/qemu-bench/bench_prep_main.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LINK_LIBS)
FW_IMAGES := $(if $(FW_CORE_READY),$(foreach b,$(FW_BOARDS),$(B)/firmware/$(b)/microt.elf \
  $(B)/firmware/$(b)/microt.bin))

.PHONY: firmware firmware-selftest firmware-ports
firmware-selftest: $(FW_SELFTESTS) $(FW_BENCH_PREP)

# Every port object for every board: compiles all four ports even before the core can link.
firmware-ports: $(foreach b,$(FW_BOARDS),$(FW_OBJS_$(b)) $(call fw_obj,$(b),$(FW_CM)/cm_main.c))

firmware: firmware-ports $(FW_SELFTESTS) $(FW_IMAGES) $(FW_BENCH_PREP)
	@$(if $(FW_CORE_READY),,echo "firmware: the core has no microt_core_poll yet: built the port objects and the QEMU self-tests only")
	@for elf in $(FW_IMAGES) $(FW_SELFTESTS); do \
	  case $$elf in *.elf) ;; *) continue ;; esac; \
	  arm-none-eabi-size -B $$elf | tail -n 1 | awk -v f="$$elf" \
	    '{printf "firmware: %-44s flash %7d B  RAM %8d B (data %d + bss %d)\n", f, $$1+$$2, $$2+$$3, $$2, $$3}'; \
	done

-include $(shell find $(B)/firmware -name '*.d' 2>/dev/null)

# The whole firmware build takes seconds: `make test` builds it all (so a port that stops
# compiling fails the tests) and tests/test_qemu.py runs the QEMU images.
test: firmware

# `make bench`: instructions per inference and per MAC of the int8 engine on the QEMU Cortex-M4
# and Cortex-M7 targets (-icount shift=0), figures merged into $(B)/bench.json.
.PHONY: bench-qemu
bench-qemu: $(FW_SELFTESTS) $(FW_BENCH_PREP)
	$(PYTHON) tools/qemu-bench/qemu_bench.py --build $(B) --json
	$(PYTHON) tools/qemu-bench/qemu_bench.py --build $(B) --json --variant ref
bench-qemu: $(foreach b,$(FW_QEMU_BOARDS),$(B)/firmware/$(b)/bench-ref.elf)
bench: bench-qemu

# The int8 kernels are the firmware's hot loops: -O2 for them (inlining the requantization into
# the channel loops), -Os for everything else.
# (A pattern with a shorter stem than the Makefile's per-CPU rule, so make prefers it.)
define FW_HOT_RULE
$(B)/arm/$(1)/firmware/core/nn/%.o: firmware/core/nn/%.c | $(GEN_H) $(NANOPB_SRC)/pb_decode.c
	@mkdir -p $$(dir $$@)
	$(ARM_CC) $(ARM_CFLAGS) $(2) -O2 -c $$< -o $$@
endef
$(eval $(call FW_HOT_RULE,m4,$(ARM_M4)))
$(eval $(call FW_HOT_RULE,m7,$(ARM_M7)))
# Per-board core libraries of the NUCLEO boards (their memory sizes, above).
$(eval $(call ARM_TARGET,h7a3zi,$(ARM_M7) $(FW_CORE_DEFS_nucleo-h7a3zi)))
$(eval $(call ARM_TARGET,l4r5zi,$(ARM_M4) $(FW_CORE_DEFS_nucleo-l4r5zi)))
$(eval $(call FW_HOT_RULE,h7a3zi,$(ARM_M7) $(FW_CORE_DEFS_nucleo-h7a3zi)))
$(eval $(call FW_HOT_RULE,l4r5zi,$(ARM_M4) $(FW_CORE_DEFS_nucleo-l4r5zi)))
# Per-CPU core libraries with the reference kernels only (the Makefile's ARM_TARGET template).
$(eval $(call ARM_TARGET,m4ref,$(ARM_M4) -DNN_NO_SIMD))
$(eval $(call ARM_TARGET,m7ref,$(ARM_M7) -DNN_NO_SIMD))
$(eval $(call FW_HOT_RULE,m4ref,$(ARM_M4) -DNN_NO_SIMD))
$(eval $(call FW_HOT_RULE,m7ref,$(ARM_M7) -DNN_NO_SIMD))
