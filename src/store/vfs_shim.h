/* vfs_shim: the SQLite VFS every tix store connection opens its files through.
 *
 * It wraps the default VFS (unix) and delegates everything to it, with two additions:
 *   - WAL frames in one write. SQLite writes each WAL frame as two writes, its 24-byte header
 *     and then its page, back to back. The shim holds the header and writes it with the page
 *     that follows it: one pwrite per frame instead of two. Nothing is ever held across any
 *     other call on the file (a read, a sync, a lock, a size, a close, shared memory...): a
 *     held header is written first, so what SQLite and other connections see is the same.
 *   - Storage faults, for tests only: while a file named `fail-fsync` exists in the fault
 *     directory every xSync answers SQLITE_IOERR_FSYNC, and while `fail-write` exists every
 *     xWrite answers SQLITE_IOERR_WRITE (nothing is written). Only `tix serve
 *     --test-fault-dir DIR` (or TIX_TEST_FAULT_DIR) sets a fault directory, through
 *     store_sqlite_set_fault_dir; without one the shim never looks for those files. */
#ifndef TIX_STORE_VFS_SHIM_H
#define TIX_STORE_VFS_SHIM_H

#include <stdint.h>

/* The name to pass to sqlite3_open_v2 once vfs_shim_register succeeded. */
#define VFS_SHIM_NAME "tix"

/* Register the shim (once per process; not as the default VFS) and watch fault_dir for
 * storage faults ("" or NULL: none). Later calls only change the fault directory. Returns 0,
 * or -1 (logged) when there is no default VFS or the path is too long. */
int vfs_shim_register(const char *fault_dir);

/* WAL writes since the process started: asked of the shim by SQLite, and made to the wrapped
 * VFS (fewer: a frame's header joins its page). For tests and diagnostics. */
void vfs_shim_wal_writes(uint64_t *asked, uint64_t *made);

/* Make every later store_sqlite_open watch fault_dir (NULL or "": off, the default). FOR
 * TESTS ONLY. Call before store_sqlite_open, from one thread. Implemented in store_sqlite.c. */
void store_sqlite_set_fault_dir(const char *fault_dir);

#endif
