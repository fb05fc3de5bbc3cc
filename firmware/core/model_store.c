/*
 * model_store.c — A/B model slots in flash with resumable, verified pushes (see model_store.h for
 * the slot layout and why the resume point is recomputed from flash).
 */
#include "model_store.h"

#include <stddef.h>
#include <string.h>

#include "crc32.h"
#include "engine.h"
#include "hal.h"
#include "sha256.h"

#define MS_MAGIC_BEGIN 0x4E474542u  /* "BEGN" */
#define MS_MAGIC_ACTIVE 0x56544341u /* "ACTV" */
#define MS_RECORD_BYTES 64u         /* a multiple of every program granule (8, 16, 32) */
#define MS_MARKS_OFF 64u            /* ERASED marks start after the BEGIN record */
#define MS_MAX_GRANULE 32u

typedef struct {
    uint32_t magic;
    uint32_t total_bytes;
    uint32_t seq;                   /* ACTIVE: activation counter; BEGIN: 0 */
    uint8_t sha256[MODEL_STORE_HASH_BYTES];
    uint8_t reserved[MS_RECORD_BYTES - 16u - MODEL_STORE_HASH_BYTES];
    uint32_t crc;                   /* CRC-32 of every byte before it */
} ms_record_t;

typedef char ms_record_size_ok[sizeof(ms_record_t) == MS_RECORD_BYTES ? 1 : -1];

typedef struct {
    bool available;
    uint32_t slot_bytes, erase_bytes, granule_bytes;
    uint32_t image_area_bytes;      /* slot minus its trailer sector */
    uint32_t n_sectors;             /* image sectors per slot */

    int active;                     /* slot index or -1 */
    uint32_t active_seq;
    uint32_t active_bytes;
    uint8_t active_sha[MODEL_STORE_HASH_BYTES];

    /* the open push */
    bool open;
    bool noop;                      /* the pushed model is the active one: nothing to write */
    bool failed;
    model_store_status_t fail_status;
    int slot;
    uint32_t total;
    uint8_t sha[MODEL_STORE_HASH_BYTES];
    uint32_t written;               /* bytes programmed, granule aligned (or == total) */
    uint32_t erased_sectors;        /* sectors [0, erased_sectors) are erased and marked */
    uint8_t gran[MS_MAX_GRANULE];   /* data of the next granule, not yet programmed */
    uint32_t gran_fill;
    const char *err;
} ms_state_t;

static ms_state_t ms;

static uint32_t ms_trailer_off(void)
{
    return ms.slot_bytes - ms.erase_bytes;
}

static bool ms_all_ff(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i] != 0xFFu)
            return false;
    return true;
}

static bool ms_read_record(int slot, uint32_t off, uint32_t magic, ms_record_t *rec)
{
    const uint8_t *base = hal_flash_map((hal_region_t)slot);
    if (base == NULL)
        return false;
    memcpy(rec, base + off, sizeof(*rec));
    return rec->magic == magic &&
           rec->crc == crc32_update(0, (const uint8_t *)rec, offsetof(ms_record_t, crc));
}

static model_store_status_t ms_write_record(int slot, uint32_t off, uint32_t magic, uint32_t total,
                                            uint32_t seq, const uint8_t *sha)
{
    ms_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.magic = magic;
    rec.total_bytes = total;
    rec.seq = seq;
    memcpy(rec.sha256, sha, MODEL_STORE_HASH_BYTES);
    rec.crc = crc32_update(0, (const uint8_t *)&rec, offsetof(ms_record_t, crc));
    if (hal_flash_program((hal_region_t)slot, off, (const uint8_t *)&rec, sizeof(rec)) != HAL_OK)
        return MODEL_STORE_EFLASH;
    return MODEL_STORE_OK;
}

static uint32_t ms_mark_off(uint32_t sector)
{
    return ms_trailer_off() + MS_MARKS_OFF + sector * ms.granule_bytes;
}

static bool ms_sector_marked(int slot, uint32_t sector)
{
    const uint8_t *base = hal_flash_map((hal_region_t)slot);
    return !ms_all_ff(base + ms_mark_off(sector), ms.granule_bytes);
}

/* Erases one image sector, then marks it: a reset between the two leaves it unmarked, so it is
 * erased again (never trusted half-erased). */
static model_store_status_t ms_erase_sector(int slot, uint32_t sector)
{
    static const uint8_t zeros[MS_MAX_GRANULE];
    if (hal_flash_erase((hal_region_t)slot, sector * ms.erase_bytes, ms.erase_bytes) != HAL_OK)
        return MODEL_STORE_EFLASH;
    if (hal_flash_program((hal_region_t)slot, ms_mark_off(sector), zeros, ms.granule_bytes) != HAL_OK)
        return MODEL_STORE_EFLASH;
    return MODEL_STORE_OK;
}

static model_store_status_t ms_erase_trailer(int slot)
{
    if (hal_flash_erase((hal_region_t)slot, ms_trailer_off(), ms.erase_bytes) != HAL_OK)
        return MODEL_STORE_EFLASH;
    return MODEL_STORE_OK;
}

/* SHA-256 of the payload, the engine's own checks (its trailing hash, every offset) and the arena
 * it needs. */
static model_store_status_t ms_verify(int slot, uint32_t total, const uint8_t *sha,
                                      uint32_t *arena_needed)
{
    const uint8_t *image = hal_flash_map((hal_region_t)slot);
    uint8_t digest[SHA256_DIGEST_BYTES];
    sha256(image, total, digest);
    if (memcmp(digest, sha, sizeof(digest)) != 0) {
        ms.err = "model hash mismatch: the slot does not hold the announced bytes";
        return MODEL_STORE_EVERIFY;
    }
    if (engine_check_image(image, total, arena_needed) != ENGINE_OK) {
        ms.err = "not a valid device model image (engine check failed)";
        return MODEL_STORE_EVERIFY;
    }
    return MODEL_STORE_OK;
}

void model_store_init(void)
{
    hal_region_info_t a = hal_flash_region(HAL_REGION_MODEL_A);
    hal_region_info_t b = hal_flash_region(HAL_REGION_MODEL_B);

    memset(&ms, 0, sizeof(ms));
    ms.active = -1;
    ms.slot = -1;
    ms.err = "";
    ms.slot_bytes = a.size_bytes;
    ms.erase_bytes = a.erase_bytes;
    ms.granule_bytes = a.program_bytes;
    if (a.size_bytes == 0 || a.size_bytes != b.size_bytes || a.erase_bytes != b.erase_bytes ||
        a.program_bytes != b.program_bytes || a.erase_bytes == 0 || a.program_bytes == 0 ||
        a.program_bytes > MS_MAX_GRANULE || MS_RECORD_BYTES % a.program_bytes != 0 ||
        a.erase_bytes % a.program_bytes != 0 || a.size_bytes % a.erase_bytes != 0 ||
        a.size_bytes < 2u * a.erase_bytes)
        return;
    ms.image_area_bytes = ms.slot_bytes - ms.erase_bytes;
    ms.n_sectors = ms.image_area_bytes / ms.erase_bytes;
    /* BEGIN record, one mark per image sector and the ACTIVE record must fit the trailer. */
    if (MS_MARKS_OFF + ms.n_sectors * ms.granule_bytes > ms.erase_bytes - MS_RECORD_BYTES)
        return;
    ms.available = true;

    for (int slot = 0; slot < 2; slot++) {
        ms_record_t rec;
        uint32_t arena = 0;
        if (!ms_read_record(slot, ms_trailer_off() + ms.erase_bytes - MS_RECORD_BYTES,
                            MS_MAGIC_ACTIVE, &rec))
            continue;
        if (rec.total_bytes == 0 || rec.total_bytes > ms.image_area_bytes)
            continue;
        if (ms.active >= 0 && rec.seq <= ms.active_seq)
            continue;
        if (ms_verify(slot, rec.total_bytes, rec.sha256, &arena) != MODEL_STORE_OK)
            continue; /* flash rotted or was overwritten: fall back to the other slot */
        ms.active = slot;
        ms.active_seq = rec.seq;
        ms.active_bytes = rec.total_bytes;
        memcpy(ms.active_sha, rec.sha256, sizeof(ms.active_sha));
    }
    ms.err = "";
}

bool model_store_available(void)
{
    return ms.available;
}

const uint8_t *model_store_active(uint32_t *image_bytes)
{
    if (ms.active < 0)
        return NULL;
    if (image_bytes != NULL)
        *image_bytes = ms.active_bytes;
    return hal_flash_map((hal_region_t)ms.active);
}

const uint8_t *model_store_active_sha256(void)
{
    return ms.active < 0 ? NULL : ms.active_sha;
}

int model_store_active_slot(void)
{
    return ms.active;
}

uint32_t model_store_capacity_bytes(void)
{
    return ms.available ? ms.image_area_bytes : 0u;
}

bool model_store_transfer_open(void)
{
    return ms.open;
}

const char *model_store_last_error(void)
{
    return ms.err;
}

/* Where a push into `slot` left off: the erased-and-marked prefix of sectors, and within it the
 * end of the last granule that is not all 0xFF. */
static void ms_scan_progress(int slot, uint32_t total)
{
    const uint8_t *base = hal_flash_map((hal_region_t)slot);
    uint32_t marked = 0, end;
    while (marked < ms.n_sectors && ms_sector_marked(slot, marked))
        marked++;
    ms.erased_sectors = marked;
    end = marked * ms.erase_bytes;
    if (end > total)
        end = (total + ms.granule_bytes - 1u) / ms.granule_bytes * ms.granule_bytes;
    while (end > 0 && ms_all_ff(base + end - ms.granule_bytes, ms.granule_bytes))
        end -= ms.granule_bytes;
    ms.written = end < total ? end : total;
}

model_store_status_t model_store_begin(uint32_t total_bytes, const uint8_t sha256_in[MODEL_STORE_HASH_BYTES],
                                       uint32_t *offset)
{
    model_store_status_t st = MODEL_STORE_OK;
    ms_record_t rec;
    int slot;

    ms.open = false;
    ms.err = "";
    if (!ms.available) {
        ms.err = "this board has no model slots";
        return MODEL_STORE_EUNAVAIL;
    }
    if (total_bytes == 0 || total_bytes > ms.image_area_bytes) {
        ms.err = "model size is 0 or larger than a model slot";
        return MODEL_STORE_EINVAL;
    }
    ms.noop = false;
    ms.failed = false;
    ms.gran_fill = 0;
    ms.total = total_bytes;
    memcpy(ms.sha, sha256_in, MODEL_STORE_HASH_BYTES);

    if (ms.active >= 0 && ms.active_bytes == total_bytes &&
        memcmp(ms.active_sha, sha256_in, MODEL_STORE_HASH_BYTES) == 0) {
        /* Already serving this model: nothing to send, TransferEnd confirms. */
        ms.noop = true;
        ms.slot = ms.active;
        ms.written = total_bytes;
        goto opened;
    }

    slot = ms.active == 0 ? 1 : 0;
    ms.slot = slot;
    {
        const uint8_t *base = hal_flash_map((hal_region_t)slot);
        bool active_free = ms_all_ff(base + ms_trailer_off() + ms.erase_bytes - MS_RECORD_BYTES,
                                     MS_RECORD_BYTES);
        if (active_free && ms_read_record(slot, ms_trailer_off(), MS_MAGIC_BEGIN, &rec) &&
            rec.total_bytes == total_bytes &&
            memcmp(rec.sha256, sha256_in, MODEL_STORE_HASH_BYTES) == 0) {
            ms_scan_progress(slot, total_bytes); /* the same push, cut earlier: resume */
            goto opened;
        }
    }
    /* A new push: forget whatever the slot held (its image sectors are erased as we reach them). */
    st = ms_erase_trailer(slot);
    if (st == MODEL_STORE_OK)
        st = ms_write_record(slot, ms_trailer_off(), MS_MAGIC_BEGIN, total_bytes, 0, sha256_in);
    if (st != MODEL_STORE_OK) {
        ms.err = "flash erase/program failed in the model slot";
        return st;
    }
    ms.erased_sectors = 0;
    ms.written = 0;
opened:
    ms.open = true;
    *offset = ms.written;
    return MODEL_STORE_OK;
}

static model_store_status_t ms_program_granule(void)
{
    uint32_t at = ms.written;
    uint32_t sector = at / ms.erase_bytes;
    while (ms.erased_sectors <= sector) {
        model_store_status_t st = ms_erase_sector(ms.slot, ms.erased_sectors);
        if (st != MODEL_STORE_OK)
            return st;
        ms.erased_sectors++;
    }
    /* 0xFF granules stay erased: the resume scan then never sees a programmed granule past the
     * true write position, and no flash word is ever programmed twice. */
    if (!ms_all_ff(ms.gran, ms.granule_bytes) &&
        hal_flash_program((hal_region_t)ms.slot, at, ms.gran, ms.granule_bytes) != HAL_OK)
        return MODEL_STORE_EFLASH;
    ms.written += ms.granule_bytes;
    ms.gran_fill = 0;
    return MODEL_STORE_OK;
}

static model_store_status_t ms_fail(model_store_status_t st, const char *why)
{
    ms.failed = true;
    ms.fail_status = st;
    ms.err = why;
    return st;
}

model_store_status_t model_store_chunk(uint32_t offset, const uint8_t *data, uint32_t len)
{
    uint32_t pos;
    if (!ms.open)
        return MODEL_STORE_ESTATE;
    if (ms.noop || ms.failed)
        return ms.failed ? ms.fail_status : MODEL_STORE_OK;
    pos = ms.written + ms.gran_fill;
    if (offset > pos)
        return ms_fail(MODEL_STORE_EINVAL, "model chunk beyond the write position (a gap)");
    if (offset + len <= pos)
        return MODEL_STORE_OK; /* a duplicate of what is held */
    data += pos - offset;
    len -= pos - offset;
    if (len > ms.total - pos)
        return ms_fail(MODEL_STORE_EINVAL, "model chunk past the announced size");
    while (len > 0) {
        uint32_t n = ms.granule_bytes - ms.gran_fill;
        if (n > len)
            n = len;
        memcpy(ms.gran + ms.gran_fill, data, n);
        ms.gran_fill += n;
        data += n;
        len -= n;
        if (ms.gran_fill == ms.granule_bytes && ms_program_granule() != MODEL_STORE_OK)
            return ms_fail(MODEL_STORE_EFLASH, "flash program failed in the model slot");
    }
    return MODEL_STORE_OK;
}

model_store_status_t model_store_end(uint32_t arena_capacity_bytes)
{
    model_store_status_t st;
    uint32_t arena_needed = 0;
    int slot = ms.slot;

    if (!ms.open) {
        ms.err = "no model transfer in progress";
        return MODEL_STORE_ESTATE;
    }
    ms.open = false;
    if (ms.noop)
        return MODEL_STORE_OK;
    if (ms.failed) {
        st = ms.fail_status;
        goto forget;
    }
    if (ms.written + ms.gran_fill != ms.total) {
        /* Not an error of the data: the push can still resume (TransferBegin again). */
        ms.err = "model transfer incomplete: resume from TransferBegin's offset";
        return MODEL_STORE_ESTATE;
    }
    if (ms.gran_fill > 0) {
        memset(ms.gran + ms.gran_fill, 0xFF, ms.granule_bytes - ms.gran_fill);
        if (ms_program_granule() != MODEL_STORE_OK) {
            st = ms_fail(MODEL_STORE_EFLASH, "flash program failed in the model slot");
            goto forget;
        }
        ms.written = ms.total;
    }
    st = ms_verify(slot, ms.total, ms.sha, &arena_needed);
    if (st != MODEL_STORE_OK)
        goto forget;
    if (arena_needed > arena_capacity_bytes) {
        ms.err = "the model needs more activation arena than this board has";
        st = MODEL_STORE_ENOSPACE;
        goto forget;
    }
    /* The one step that switches models. */
    st = ms_write_record(slot, ms_trailer_off() + ms.erase_bytes - MS_RECORD_BYTES, MS_MAGIC_ACTIVE,
                         ms.total, ms.active_seq + 1u, ms.sha);
    if (st != MODEL_STORE_OK) {
        ms.err = "flash program failed writing the activation record";
        goto forget;
    }
    ms.active = slot;
    ms.active_seq++;
    ms.active_bytes = ms.total;
    memcpy(ms.active_sha, ms.sha, sizeof(ms.active_sha));
    return MODEL_STORE_OK;
forget:
    /* Drop the BEGIN record so the next push of these bytes starts from 0, not from bad flash. */
    (void)ms_erase_trailer(slot);
    return st;
}
