/*
 * lib/filew.h: a fast sequential file writer for large received objects.
 *
 * Data moves into one aligned block buffer and reaches the file in whole
 * blocks, written with O_DIRECT where the file system takes it, so that a
 * transfer does not pay for copying every byte into the page cache (on
 * the virtual machines connectors run on, that copy costs more than TLS)
 * nor for the partial-page zeroing unaligned writes cause.  Where
 * O_DIRECT is refused (tmpfs, some FUSE and network file systems) the same
 * blocks go through the page cache.  The tail that does not fill a block
 * is written buffered at the end.  Nothing here makes a file appear
 * complete: the caller writes a temporary name and renames it once the
 * content is verified (tsr_filew_finish syncs it first).
 *
 * Blocks are written by one I/O thread shared by every writer, while the
 * caller fills the writer's second block, so a transfer keeps receiving,
 * decrypting and hashing while the disk writes (with O_DIRECT a write
 * blocks without using the CPU).  At most one block per writer is in
 * flight; a caller that fills its second block before the first is on
 * disk waits for it, which is the back-pressure a fast network needs
 * against a slow disk.  A writer's memory is two blocks.
 *
 * One writer is one open file, used from one thread.
 */
#ifndef TSR_LIB_FILEW_H
#define TSR_LIB_FILEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tsr_diag;

/* Block sizes accepted by tsr_filew_open (a multiple of 4096 in this range). */
#define TSR_FILEW_MIN_BLOCK ((size_t)64 << 10)
#define TSR_FILEW_MAX_BLOCK ((size_t)4 << 20)

struct tsr_filew {
    int fd;                 /* -1 when closed */
    unsigned char *buf[2];  /* block-aligned, block bytes each */
    int cur;                /* the block being filled */
    size_t block;
    size_t len;             /* bytes waiting in buf[cur] */
    uint64_t off;           /* file offset of buf[cur][0] */
    bool direct;            /* O_DIRECT is in effect on fd */
    /* The block in flight, shared with the I/O thread under its lock. */
    bool busy;
    int err;                /* errno of a failed background write, sticky */
    size_t job_len;
    uint64_t job_off;
    const unsigned char *job_buf;
    struct tsr_filew *job_next;
};

/*
 * Open path for writing (created with mode if missing), truncate it at
 * *offset and go on from there (resuming a partial file); an offset past
 * the end is lowered to the file's size, which *offset then says.
 * *offset 0 truncates the file.  block: the write
 * size, rounded to a multiple of 4096 within TSR_FILEW_MIN_BLOCK and
 * TSR_FILEW_MAX_BLOCK.  Returns 0, TSR_EIO or TSR_ENOMEM (w is then
 * closed and safe to tsr_filew_close again).
 */
int tsr_filew_open(struct tsr_filew *w, const char *path, mode_t mode, size_t block,
                   uint64_t *offset, struct tsr_diag *d);

/*
 * Append len bytes.  Returns 0 or TSR_EIO (errno tells why; a failure of
 * an earlier background write shows here or at finish).
 */
int tsr_filew_write(struct tsr_filew *w, const void *data, size_t len);

/*
 * Write what is buffered and make the file durable (fdatasync) when sync
 * is set.  The writer stays open (more may be appended).  Returns 0 or
 * TSR_EIO.
 */
int tsr_filew_finish(struct tsr_filew *w, bool sync);

/* The number of bytes accepted so far (written or buffered), from the file's start. */
uint64_t tsr_filew_size(const struct tsr_filew *w);

/*
 * Close the file, dropping what was not finished (after the block in
 * flight, if any, is written); safe on a closed writer.
 */
void tsr_filew_close(struct tsr_filew *w);

#endif
