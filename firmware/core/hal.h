/*
 * hal.h — the one contract between the portable firmware core and a board port.
 *
 * The core (firmware/core) includes this header and nothing platform-specific; each folder in
 * firmware/ports/ implements every function below exactly once and the build links one port.
 * Like TinyUSB's dcd.h: plain functions, no function tables, chosen at link time.
 *
 * All functions are called from the core's single main loop (no interrupts call into the core),
 * so a port may implement them with polling or with its own ISR-fed ring buffers.
 */
#ifndef MICROT_HAL_H
#define MICROT_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HAL_UID_BYTES 12u /* the STM32 96-bit unique ID */

/* What the core needs to know about the part it runs on. Values for real parts come from ST's
 * datasheets; the port cites the table. */
typedef struct {
    uint32_t board_kind;        /* microt_BoardKind */
    const char *name;           /* "h7a3zi", "l4r5zi", "qemu-an386", ... */
    uint32_t cpu_hz;            /* core clock the firmware configures */
    uint32_t sram_bytes;        /* total SRAM of the part */
    uint32_t flash_bytes;       /* total flash of the part */
    uint32_t features;          /* HAL_FEATURE_* bits */
} hal_board_t;

/* hal_board_t.features */
#define HAL_FEATURE_CAMERA 1u          /* hal_camera_capture can deliver frames (CAP_CAPTURE) */
#define HAL_FEATURE_MODELED_CYCLES 2u  /* hal_cycles() is not the part's cycle counter (the
                                          simulator): the core prices its work with the cost model
                                          (cost.h) instead of measuring it */

/* Flash regions the core may rewrite. Each is erased in units of erase_bytes and programmed in
 * aligned units of program_bytes; reads go through the memory map (hal_flash_map). */
typedef enum {
    HAL_REGION_MODEL_A = 0,
    HAL_REGION_MODEL_B = 1,
    HAL_REGION_COUNT
} hal_region_t;

typedef struct {
    uint32_t size_bytes;
    uint32_t erase_bytes;       /* sector/page size */
    uint32_t program_bytes;     /* programming granule (8 on L4, 16 on H7A3) */
} hal_region_info_t;

typedef enum {
    HAL_OK = 0,
    HAL_EINVAL = -1,            /* address or length outside the region or misaligned */
    HAL_EIO = -2,               /* the flash controller reported an error */
} hal_status_t;

typedef enum {
    HAL_BOOT_APP = 0,
    HAL_BOOT_BOOTLOADER = 1,    /* STM32 system-memory (ROM) bootloader */
} hal_boot_target_t;

/* Board identity and limits; the pointer stays valid forever. */
const hal_board_t *hal_board(void);

/* Copies the MCU unique ID (HAL_UID_BYTES bytes). */
void hal_uid(uint8_t uid[HAL_UID_BYTES]);

/* Monotonic milliseconds since boot (wraps after 49 days; the core compares with subtraction). */
uint32_t hal_millis(void);

/* Free-running cycle counter of the core clock (DWT->CYCCNT extended to 64 bits on Cortex-M,
 * the modeled counter on the host). */
uint64_t hal_cycles(void);

/* Serial line to the gateway. write queues or sends all len bytes, blocking if it must;
 * read returns at once with 0..cap bytes that have arrived. */
void hal_uart_write(const uint8_t *buf, size_t len);
size_t hal_uart_read(uint8_t *buf, size_t cap);

/* Sleeps until something may have happened (a byte arrived, a tick passed), at most timeout_ms. */
void hal_wait(uint32_t timeout_ms);

/* Model slots in flash. */
hal_region_info_t hal_flash_region(hal_region_t region);
const uint8_t *hal_flash_map(hal_region_t region);
hal_status_t hal_flash_erase(hal_region_t region, uint32_t offset, uint32_t len);
hal_status_t hal_flash_program(hal_region_t region, uint32_t offset, const uint8_t *data, uint32_t len);

/* Version of the firmware image that is running, as stamped in its image header
 * (firmware/core/fw_header.h); the core reports it in DeviceInfo. */
const char *hal_firmware_version(void);

/* Persistent boot counter, incremented by the port at each reset. */
uint32_t hal_boot_count(void);

/* Resets the part into the application or the ROM bootloader; does not return. */
void hal_reboot(hal_boot_target_t target);

/* Refreshes the independent watchdog (a no-op where there is none). */
void hal_watchdog_kick(void);

/* Camera (optional, CAP_CAPTURE): fills buf with the next frame as uint8 RGB, width x height x 3,
 * scaled to the size asked for. Returns false when the board has no camera or no frame. */
bool hal_camera_capture(uint8_t *buf, uint32_t width, uint32_t height);

#endif /* MICROT_HAL_H */
