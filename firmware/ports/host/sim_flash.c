/*
 * sim_flash.c — the simulator's flash: an mmap'ed file (or anonymous memory) of the part's size.
 * A new file is filled with 0xFF, the erased state of STM32 flash.
 */
#include "sim_flash.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int sim_flash_open(sim_flash_t *flash, const char *path, uint32_t size_bytes, uint32_t page_bytes)
{
    int fd = -1;
    uint8_t *base = MAP_FAILED;
    struct stat st;

    memset(flash, 0, sizeof(*flash));
    flash->fd = -1;
    if (path == NULL) {
        base = mmap(NULL, size_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
            goto fail;
        memset(base, 0xFF, size_bytes);
        goto done;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        goto fail;
    if (fstat(fd, &st) != 0)
        goto fail;
    if ((uint64_t)st.st_size != size_bytes) {
        /* New (or resized) flash: grow to the part's size and erase the new bytes. */
        off_t old = st.st_size < (off_t)size_bytes ? st.st_size : (off_t)size_bytes;
        if (ftruncate(fd, size_bytes) != 0)
            goto fail;
        base = mmap(NULL, size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED)
            goto fail;
        memset(base + old, 0xFF, size_bytes - (uint32_t)old);
    } else {
        base = mmap(NULL, size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED)
            goto fail;
    }
done:
    flash->base = base;
    flash->size_bytes = size_bytes;
    flash->page_bytes = page_bytes;
    flash->fd = fd;
    return 0;
fail: {
    int saved = errno;
    if (fd >= 0)
        close(fd);
    errno = saved;
    return -1;
}
}

void sim_flash_sync(sim_flash_t *flash)
{
    if (flash->base != NULL && flash->fd >= 0)
        msync(flash->base, flash->size_bytes, MS_SYNC);
}

void sim_flash_close(sim_flash_t *flash)
{
    if (flash->base != NULL) {
        sim_flash_sync(flash);
        munmap(flash->base, flash->size_bytes);
    }
    if (flash->fd >= 0)
        close(flash->fd);
    memset(flash, 0, sizeof(*flash));
    flash->fd = -1;
}
