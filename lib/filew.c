/*
 * lib/filew.c: the sequential block writer (see filew.h).
 *
 * One I/O thread serves every writer of the process: a FIFO of writers
 * with a block in flight, one lock, two condition variables.  A writer
 * has at most one block queued or being written, so the queue is as long
 * as the number of writers at most, and its links live in the writers.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/filew.h"

/* What O_DIRECT needs of buffer, length and offset on the file systems we meet. */
#define ALIGN ((size_t)4096)

static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t io_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t io_done = PTHREAD_COND_INITIALIZER;
static struct tsr_filew *io_head, *io_tail;
static pthread_once_t io_once = PTHREAD_ONCE_INIT;
static bool io_running;

static void set_direct(struct tsr_filew *w, bool on)
{
    int fl = fcntl(w->fd, F_GETFL);

    if (fl < 0 || fcntl(w->fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) != 0)
        on = false;
    w->direct = on;
}

/*
 * Write n bytes of buf at off; falls back to buffered writes when O_DIRECT
 * is refused.  Returns 0 or an errno value.
 */
static int put(struct tsr_filew *w, const unsigned char *buf, size_t n, uint64_t off)
{
    size_t done = 0;

    if (w->direct && (n % ALIGN) != 0)
        set_direct(w, false);
    while (done < n) {
        ssize_t k = pwrite(w->fd, buf + done, n - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EINVAL && w->direct) {
            /* Took the flag but not the write (some FUSE and network file systems). */
            set_direct(w, false);
            continue;
        }
        if (k <= 0)
            return k == 0 ? EIO : errno;
        done += (size_t)k;
        if (w->direct && done < n && (done % ALIGN) != 0)
            set_direct(w, false); /* a short direct write: finish the block buffered */
    }
    return 0;
}

static void *io_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&io_lock);
    for (;;) {
        while (io_head == NULL)
            pthread_cond_wait(&io_work, &io_lock);
        struct tsr_filew *w = io_head;
        io_head = w->job_next;
        if (io_head == NULL)
            io_tail = NULL;
        pthread_mutex_unlock(&io_lock);
        /* The writer does not touch the block, fd or flags while busy. */
        int err = w->err == 0 ? put(w, w->job_buf, w->job_len, w->job_off) : 0;
        pthread_mutex_lock(&io_lock);
        if (err != 0)
            w->err = err;
        w->busy = false;
        pthread_cond_broadcast(&io_done);
    }
    return NULL;
}

static void io_start(void)
{
    pthread_t t;
    pthread_attr_t a;

    if (pthread_attr_init(&a) != 0)
        return;
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 << 10);
    io_running = pthread_create(&t, &a, io_main, NULL) == 0;
    pthread_attr_destroy(&a);
}

/* Wait until w has no block in flight; returns its sticky error (0: none). */
static int settle(struct tsr_filew *w)
{
    pthread_mutex_lock(&io_lock);
    while (w->busy)
        pthread_cond_wait(&io_done, &io_lock);
    int err = w->err;
    pthread_mutex_unlock(&io_lock);
    return err;
}

/* Send the full current block to the I/O thread (or write it here without one). */
static int submit(struct tsr_filew *w)
{
    int err = settle(w);

    if (err == 0 && !io_running) {
        err = put(w, w->buf[w->cur], w->len, w->off);
        w->err = err;
    } else if (err == 0) {
        pthread_mutex_lock(&io_lock);
        w->busy = true;
        w->job_buf = w->buf[w->cur];
        w->job_len = w->len;
        w->job_off = w->off;
        w->job_next = NULL;
        if (io_tail != NULL)
            io_tail->job_next = w;
        else
            io_head = w;
        io_tail = w;
        pthread_cond_signal(&io_work);
        pthread_mutex_unlock(&io_lock);
    }
    if (err != 0) {
        errno = err;
        return TSR_EIO;
    }
    w->off += w->len;
    w->len = 0;
    w->cur ^= 1;
    return 0;
}

int tsr_filew_open(struct tsr_filew *w, const char *path, mode_t mode, size_t block,
                   uint64_t *offset, struct tsr_diag *d)
{
    struct stat st;

    memset(w, 0, sizeof(*w));
    w->fd = -1;
    block = (block + ALIGN - 1) & ~(ALIGN - 1);
    block = TSR_MAX(TSR_FILEW_MIN_BLOCK, TSR_MIN(block, TSR_FILEW_MAX_BLOCK));
    for (int i = 0; i < 2; i++) {
        void *buf = NULL;
        if (posix_memalign(&buf, ALIGN, block) != 0) {
            tsr_filew_close(w);
            return tsr_diag_set(d, TSR_ENOMEM, "no memory for a %zu-byte write buffer", block);
        }
        w->buf[i] = buf;
    }
    w->block = block;
    w->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode); /* read: see the resume below */
    if (w->fd < 0 || fstat(w->fd, &st) != 0) {
        int rc = tsr_diag_set(d, TSR_EIO, "cannot open %s: %s", path, strerror(errno));
        tsr_filew_close(w);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        tsr_filew_close(w);
        return tsr_diag_set(d, TSR_EIO, "cannot write %s: not a regular file", path);
    }
    /*
     * Resuming at an offset that is not a block boundary: the bytes from
     * the boundary before it are read back into the block, so that the
     * first block written rewrites them unchanged and every write stays
     * aligned.
     */
    uint64_t off = TSR_MIN(*offset, (uint64_t)st.st_size);
    uint64_t start = off & ~(uint64_t)(ALIGN - 1);
    size_t pre = (size_t)(off - start);
    size_t got = 0;
    while (got < pre) {
        ssize_t k = pread(w->fd, w->buf[0] + got, pre - got, (off_t)(start + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    if (got < pre || ftruncate(w->fd, (off_t)off) != 0) {
        int rc = tsr_diag_set(d, TSR_EIO, "cannot resume %s at %llu: %s", path,
                              (unsigned long long)off, got < pre ? "short read" : strerror(errno));
        tsr_filew_close(w);
        return rc;
    }
    w->off = start;
    w->len = pre;
    *offset = off;
    set_direct(w, true);
    pthread_once(&io_once, io_start);
    return 0;
}

int tsr_filew_write(struct tsr_filew *w, const void *data, size_t len)
{
    const unsigned char *p = data;

    if (w->fd < 0) {
        errno = EBADF;
        return TSR_EIO;
    }
    while (len > 0) {
        size_t n = TSR_MIN(len, w->block - w->len);
        memcpy(w->buf[w->cur] + w->len, p, n);
        w->len += n;
        p += n;
        len -= n;
        if (w->len == w->block && submit(w) != 0)
            return TSR_EIO;
    }
    return 0;
}

int tsr_filew_finish(struct tsr_filew *w, bool sync)
{
    if (w->fd < 0) {
        errno = EBADF;
        return TSR_EIO;
    }
    int err = settle(w);
    if (err == 0 && w->len > 0) {
        err = put(w, w->buf[w->cur], w->len, w->off);
        if (err == 0) {
            w->off += w->len;
            w->len = 0;
        }
        w->err = err;
    }
    if (err == 0 && sync && fdatasync(w->fd) != 0)
        err = errno;
    if (err != 0) {
        errno = err;
        return TSR_EIO;
    }
    return 0;
}

uint64_t tsr_filew_size(const struct tsr_filew *w)
{
    return w->off + w->len;
}

void tsr_filew_close(struct tsr_filew *w)
{
    settle(w);
    if (w->fd >= 0)
        close(w->fd);
    for (int i = 0; i < 2; i++) {
        free(w->buf[i]); /* posix_memalign's, not tsr_malloc's */
        w->buf[i] = NULL;
    }
    w->fd = -1;
    w->len = 0;
}
