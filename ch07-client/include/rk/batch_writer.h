/* batch_writer.h — writes a metadata file (topics.json, subscriptionGroup.json)
 * off the request path, many changes in one write.
 *
 * The owner of a table calls rk_batch_writer_changed after each change; a
 * writer thread waits for the first change, lets more come for interval_ms,
 * then asks the owner for the file's text (encode, called with no lock of
 * the writer held, so it may take the owner's lock) and writes it with
 * rk_file_write_atomic (tmp + fsync + rename). A flood of changes costs one
 * write per interval, not one fsync per change on the thread that made it.
 * With interval_ms == 0 there is no thread: rk_batch_writer_changed writes
 * at once. A failed write is retried at the next change, flush or close.
 *
 * Lock order: the owner may call rk_batch_writer_changed with its own lock
 * held only when interval_ms > 0 (else the write would call encode under
 * it); rk_batch_writer_flush and _free must be called without it.
 * Threads: any. Memory: encode returns a malloc'ed string the writer frees;
 * the writer keeps a copy of path and log_tag. */
#ifndef RK_BATCH_WRITER_H
#define RK_BATCH_WRITER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct rk_batch_writer rk_batch_writer_t;

/* The file's whole text, malloc'ed; NULL on ENOMEM. */
typedef char *(*rk_batch_encode_fn)(void *owner);

/* Starts the writer thread when interval_ms > 0. */
int rk_batch_writer_new(const char *path, const char *log_tag, int64_t interval_ms, rk_batch_encode_fn encode,
                        void *owner, rk_batch_writer_t **out);
/* The table changed: with a thread, marks it for the next write (returns
 * 0); without, writes now and returns the write's result. */
int rk_batch_writer_changed(rk_batch_writer_t *w);
/* Writes now if something changed since the last write (0 if nothing did). */
int rk_batch_writer_flush(rk_batch_writer_t *w);
/* Stops the thread, writes what is pending, frees. NULL is a no-op. */
void rk_batch_writer_free(rk_batch_writer_t *w);

#endif
