/*
 * transport.c — opens a board's serial port. Real UARTs go through libserialport (it knows USB
 * serial numbers and modem lines); pseudo-terminals, which libserialport 0.1.1 cannot open, go
 * through termios directly. After opening, both are a non-blocking fd that poll(2) watches.
 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "mt_err.h"

struct transport {
    int fd;
    int is_pty;
    struct sp_port *sp; /* NULL for the termios path */
};

static speed_t transport_speed(uint32_t baud)
{
    switch (baud) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    case 460800: return B460800;
    case 921600: return B921600;
    case 1000000: return B1000000;
    case 2000000: return B2000000;
    default: return B115200;
    }
}

static int transport_open_termios(transport_t *t, const char *path, uint32_t baud)
{
    struct termios tio;
    t->fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (t->fd < 0)
        return errno == ENOENT ? MT_ENOTFOUND : MT_EIO;
    if (tcgetattr(t->fd, &tio) != 0)
        return MT_EIO;
    cfmakeraw(&tio);
    tio.c_cflag |= CLOCAL | CREAD;
    cfsetispeed(&tio, transport_speed(baud));
    cfsetospeed(&tio, transport_speed(baud));
    if (tcsetattr(t->fd, TCSANOW, &tio) != 0)
        return MT_EIO;
    return 0;
}

static int transport_open_sp(transport_t *t, const char *path, uint32_t baud)
{
    if (sp_get_port_by_name(path, &t->sp) != SP_OK) {
        t->sp = NULL;
        return MT_ENOTFOUND;
    }
    if (sp_open(t->sp, SP_MODE_READ_WRITE) != SP_OK || sp_set_baudrate(t->sp, (int)baud) != SP_OK ||
        sp_set_bits(t->sp, 8) != SP_OK || sp_set_parity(t->sp, SP_PARITY_NONE) != SP_OK ||
        sp_set_stopbits(t->sp, 1) != SP_OK || sp_set_flowcontrol(t->sp, SP_FLOWCONTROL_NONE) != SP_OK)
        return MT_EIO;
    if (sp_get_port_handle(t->sp, &t->fd) != SP_OK)
        return MT_EIO;
    if (fcntl(t->fd, F_SETFL, fcntl(t->fd, F_GETFL) | O_NONBLOCK) != 0)
        return MT_EIO;
    return 0;
}

int transport_open(const char *path, uint32_t baud, transport_t **out)
{
    char real[PATH_MAX];
    transport_t *t;
    int rc;

    *out = NULL;
    if (realpath(path, real) == NULL)
        return errno == ENOENT ? MT_ENOTFOUND : MT_EIO;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return MT_ENOMEM;
    t->fd = -1;
    t->is_pty = strncmp(real, "/dev/pts/", 9) == 0;
    if (t->is_pty) {
        rc = transport_open_termios(t, real, baud);
    } else {
        rc = transport_open_sp(t, real, baud);
        if (rc == MT_ENOTFOUND) /* not a port libserialport knows (a plain tty): use termios */
            rc = transport_open_termios(t, real, baud);
    }
    if (rc != 0) {
        transport_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

void transport_close(transport_t *t)
{
    if (t == NULL)
        return;
    if (t->sp != NULL) {
        sp_close(t->sp);
        sp_free_port(t->sp);
    } else if (t->fd >= 0) {
        close(t->fd);
    }
    free(t);
}

int transport_fd(const transport_t *t)
{
    return t->fd;
}

int transport_is_pty(const transport_t *t)
{
    return t->is_pty;
}

ssize_t transport_read(transport_t *t, uint8_t *buf, size_t cap, int timeout_ms)
{
    struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
    ssize_t n = read(t->fd, buf, cap);
    if (n > 0)
        return n;
    if (n == 0 || (errno != EAGAIN && errno != EINTR))
        return MT_EIO;
    if (timeout_ms <= 0)
        return 0;
    if (poll(&pfd, 1, timeout_ms) < 0)
        return errno == EINTR ? 0 : MT_EIO;
    if (pfd.revents & (POLLERR | POLLNVAL))
        return MT_EIO;
    n = read(t->fd, buf, cap);
    if (n > 0)
        return n;
    if (n == 0 || (errno != EAGAIN && errno != EINTR))
        return MT_EIO;
    return 0;
}

static long transport_elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000L + (now.tv_nsec - start->tv_nsec) / 1000000L;
}

int transport_write(transport_t *t, const uint8_t *buf, size_t len, int timeout_ms)
{
    struct timespec start;
    size_t done = 0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (done < len) {
        ssize_t n = write(t->fd, buf + done, len - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return MT_EIO;
        long left = timeout_ms - transport_elapsed_ms(&start);
        if (left <= 0)
            return MT_ETIMEOUT;
        struct pollfd pfd = {.fd = t->fd, .events = POLLOUT};
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            return MT_EIO;
        if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
            return MT_EIO;
    }
    return 0;
}

void transport_flush_input(transport_t *t)
{
    tcflush(t->fd, TCIFLUSH);
}

int transport_set_parity(transport_t *t, transport_parity_t parity)
{
    struct termios tio;
    if (t->sp != NULL)
        return sp_set_parity(t->sp, parity == TRANSPORT_PARITY_EVEN ? SP_PARITY_EVEN : SP_PARITY_NONE) == SP_OK
                   ? 0 : MT_EIO;
    if (tcgetattr(t->fd, &tio) != 0)
        return MT_EIO;
    if (parity == TRANSPORT_PARITY_EVEN)
        tio.c_cflag = (tio.c_cflag | PARENB) & ~(tcflag_t)PARODD;
    else
        tio.c_cflag &= ~(tcflag_t)PARENB;
    return tcsetattr(t->fd, TCSANOW, &tio) == 0 ? 0 : MT_EIO;
}

int transport_set_lines(transport_t *t, int dtr, int rts)
{
    if (t->is_pty)
        return MT_EINVAL;
    if (t->sp != NULL) {
        if (dtr >= 0 && sp_set_dtr(t->sp, dtr ? SP_DTR_ON : SP_DTR_OFF) != SP_OK)
            return MT_EIO;
        if (rts >= 0 && sp_set_rts(t->sp, rts ? SP_RTS_ON : SP_RTS_OFF) != SP_OK)
            return MT_EIO;
        return 0;
    }
    int bits;
    if (ioctl(t->fd, TIOCMGET, &bits) != 0)
        return MT_EIO;
    if (dtr >= 0)
        bits = dtr ? (bits | TIOCM_DTR) : (bits & ~TIOCM_DTR);
    if (rts >= 0)
        bits = rts ? (bits | TIOCM_RTS) : (bits & ~TIOCM_RTS);
    return ioctl(t->fd, TIOCMSET, &bits) == 0 ? 0 : MT_EIO;
}

int transport_list_usb(char (*paths)[256], unsigned max, unsigned *n)
{
    struct sp_port **ports = NULL;
    *n = 0;
    if (sp_list_ports(&ports) != SP_OK)
        return MT_EIO;
    for (unsigned i = 0; ports[i] != NULL && *n < max; i++) {
        if (sp_get_port_transport(ports[i]) != SP_TRANSPORT_USB)
            continue;
        strncpy(paths[*n], sp_get_port_name(ports[i]), 255);
        paths[*n][255] = '\0';
        (*n)++;
    }
    sp_free_port_list(ports);
    return 0;
}
