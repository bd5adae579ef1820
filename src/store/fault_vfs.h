/* fault_vfs: a test-only SQLite VFS that injects storage faults on demand.
 *
 * It wraps the default VFS and delegates everything to it, except that while a file named
 * `fail-fsync` exists in the fault directory every xSync answers SQLITE_IOERR_FSYNC, and
 * while `fail-write` exists every xWrite answers SQLITE_IOERR_WRITE (nothing is written).
 * Tests create and delete those files to make the store fail and recover without a restart.
 *
 * Only `tix serve --test-fault-dir DIR` (or TIX_TEST_FAULT_DIR) registers it, through
 * store_sqlite_set_fault_dir; a production server never has it. */
#ifndef TIX_STORE_FAULT_VFS_H
#define TIX_STORE_FAULT_VFS_H

/* The name to pass to sqlite3_open_v2 once fault_vfs_register succeeded. */
#define FAULT_VFS_NAME "tix-fault"

/* Register the VFS (not as the default one), watching fault_dir. Call once, before opening
 * connections with it; a second call changes nothing and returns 0 if fault_dir is the same.
 * Returns 0, or -1 (logged) when there is no default VFS, the path is too long or it was
 * already registered with another directory. */
int fault_vfs_register(const char *fault_dir);

/* Make every later store_sqlite_open use this VFS, watching fault_dir (NULL or "": off, the
 * default). Call before store_sqlite_open, from one thread. Implemented in store_sqlite.c. */
void store_sqlite_set_fault_dir(const char *fault_dir);

#endif
