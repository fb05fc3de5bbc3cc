# mk/flasher.mk — firmware flashing: the test-only bootloader simulator, the flasher CLI, and the
# flashing benchmark (daemon flasher against Debian's stm32flash on the same simulated part).

$(B)/bootrom-sim: $(call obj,tests/bootrom_sim_main.c) $(ALL_LIBS)
	$(CC) $(CFLAGS) -o $@ $< $(LINK_LIBS) -lutil

test: $(B)/bootrom-sim
all: $(B)/bootrom-sim

# The simulator's headers (firmware/ports/host) for the programs and tests that drive it.
FLASHER_SIM_USERS := tests/bootrom_sim_main.c tests/test_sim_bootrom.c tests/test_an3155.c \
  tests/test_flasher.c
$(call obj,$(FLASHER_SIM_USERS)): CFLAGS += -Ifirmware/ports/host

$(B)/microt-flash: $(call obj,daemon/flash/microt_flash_main.c) $(ALL_LIBS)
	$(CC) $(CFLAGS) -o $@ $< $(LINK_LIBS)

test: $(B)/microt-flash
all: $(B)/microt-flash
$(B)/tests/test_an3155 $(B)/tests/test_sim_bootrom $(B)/tests/test_flasher: LINK_LIBS += -lutil

# Flashing benchmark: ~2 minutes (256 KiB at 115200 baud, three runs).
.PHONY: bench-flash
bench-flash: $(B)/bootrom-sim $(B)/microt-flash
	@$(PYTHON) scripts/bench_flash.py --build $(B)
bench: bench-flash
