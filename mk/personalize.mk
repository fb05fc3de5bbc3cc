# mk/personalize.mk — the board side of the personalization workflow (model store, samples,
# training, staged inference, capture): its tests drive the core in-process through the host
# port (firmware/ports/host headers) and the simulator over a pty.
PERSONALIZE_SIM_USERS := tests/test_model_store.c tests/test_personalize.c
$(call obj,$(PERSONALIZE_SIM_USERS)): CFLAGS += -Ifirmware/ports/host
