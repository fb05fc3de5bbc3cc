/*
 * cm_flash.c — hal_flash_* and hal_boot_count for the Cortex-M ports (see cm_flash.h).
 *
 * Programming rules the STM32 parts impose and every port keeps, so code that works under QEMU
 * works on the boards: a granule is programmed once after its erase (the H7A3 flash has ECC per
 * 128-bit word, RM0455 4.3.9; the L4R5 per 64-bit double word, RM0432 3.3.7), offsets are aligned
 * to the granule, and a short tail is padded with 0xFF (erased value, which programs nothing).
 *
 * Boot counter log: records of one granule each in the metadata area, record i holding
 * {count, ~count}. The next boot programs the first erased record; when the area is full or holds
 * something that is not a record, it is erased and the count continues at record 0. One erase
 * per (area / granule) boots keeps the wear far below the parts' 10 k cycles.
 */
#include "cm_flash.h"

#include <string.h>

#include "cm.h"

#define CM_GRANULE_MAX 16u

static uint32_t cm_boot_count_value;

hal_region_info_t hal_flash_region(hal_region_t region)
{
    const cm_flash_layout_t *layout = port_flash_layout();
    hal_region_info_t info = {0, 0, 0};
    if ((unsigned)region < HAL_REGION_COUNT) {
        info.size_bytes = layout->slot[region].size_bytes;
        info.erase_bytes = layout->erase_bytes;
        info.program_bytes = layout->program_bytes;
    }
    return info;
}

const uint8_t *hal_flash_map(hal_region_t region)
{
    if ((unsigned)region >= HAL_REGION_COUNT) {
        return NULL;
    }
    return (const uint8_t *)port_flash_layout()->slot[region].base_addr;
}

static bool cm_flash_range_ok(const cm_flash_area_t *area, uint32_t offset, uint32_t len)
{
    return offset <= area->size_bytes && len <= area->size_bytes - offset;
}

static hal_status_t cm_flash_erase_area(const cm_flash_area_t *area, uint32_t offset, uint32_t len,
                                        uint32_t erase_bytes)
{
    if (!cm_flash_range_ok(area, offset, len) || offset % erase_bytes != 0u ||
        len % erase_bytes != 0u) {
        return HAL_EINVAL;
    }
    for (uint32_t done = 0; done < len; done += erase_bytes) {
        hal_status_t st = port_flash_erase_unit(area->base_addr + offset + done);
        if (st != HAL_OK) {
            return st;
        }
        hal_watchdog_kick();
    }
    cm_dcache_invalidate(area->base_addr + offset, len);
    return HAL_OK;
}

static hal_status_t cm_flash_program_area(const cm_flash_area_t *area, uint32_t offset,
                                          const uint8_t *data, uint32_t len, uint32_t granule)
{
    if (!cm_flash_range_ok(area, offset, len) || offset % granule != 0u ||
        (data == NULL && len != 0u) || granule > CM_GRANULE_MAX) {
        return HAL_EINVAL;
    }
    uint8_t tail[CM_GRANULE_MAX];
    hal_status_t st = HAL_OK;
    uint32_t done = 0;
    while (done < len) {
        const uint8_t *unit = data + done;
        if (len - done < granule) {
            memset(tail, 0xFF, sizeof tail);
            memcpy(tail, data + done, len - done);
            unit = tail;
        }
        st = port_flash_program_unit(area->base_addr + offset + done, unit);
        if (st != HAL_OK) {
            goto out;
        }
        done += granule;
    }
out:
    cm_dcache_invalidate(area->base_addr + offset, len);
    return st;
}

hal_status_t hal_flash_erase(hal_region_t region, uint32_t offset, uint32_t len)
{
    const cm_flash_layout_t *layout = port_flash_layout();
    if ((unsigned)region >= HAL_REGION_COUNT) {
        return HAL_EINVAL;
    }
    return cm_flash_erase_area(&layout->slot[region], offset, len, layout->erase_bytes);
}

hal_status_t hal_flash_program(hal_region_t region, uint32_t offset, const uint8_t *data,
                               uint32_t len)
{
    const cm_flash_layout_t *layout = port_flash_layout();
    if ((unsigned)region >= HAL_REGION_COUNT) {
        return HAL_EINVAL;
    }
    return cm_flash_program_area(&layout->slot[region], offset, data, len, layout->program_bytes);
}

void cm_boot_count_update(void)
{
    const cm_flash_layout_t *layout = port_flash_layout();
    const cm_flash_area_t *meta = &layout->meta;
    uint32_t granule = layout->program_bytes;
    uint32_t records = meta->size_bytes / granule;
    uint32_t count = 0;
    uint32_t next = records; /* first erased record; records = none */
    bool clean = true;

    for (uint32_t i = 0; i < records; i++) {
        const volatile uint32_t *rec = (const volatile uint32_t *)(meta->base_addr + i * granule);
        bool erased = true;
        for (uint32_t w = 0; w < granule / 4u; w++) {
            erased = erased && rec[w] == 0xFFFFFFFFu;
        }
        if (erased) {
            next = i;
            break;
        }
        if (rec[1] != ~rec[0]) {
            clean = false; /* torn write or foreign data: start the log again */
            break;
        }
        count = rec[0];
    }
    count++;
    if (!clean || next == records) {
        if (cm_flash_erase_area(meta, 0, meta->size_bytes, layout->erase_bytes) != HAL_OK) {
            cm_boot_count_value = count;
            return;
        }
        next = 0;
    }
    uint8_t unit[CM_GRANULE_MAX];
    memset(unit, 0xFF, sizeof unit);
    uint32_t words[2] = {count, ~count};
    memcpy(unit, words, sizeof words);
    (void)cm_flash_program_area(meta, next * granule, unit, granule, granule);
    cm_boot_count_value = count;
}

uint32_t hal_boot_count(void) { return cm_boot_count_value; }
