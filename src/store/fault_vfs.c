/* fault_vfs: see fault_vfs.h. A classic SQLite shim: each file we open is our small header
 * followed by the real VFS's file object (szOsFile is the sum), and every method forwards to
 * the real one. Whether a fault is armed is asked of the file system at each xWrite/xSync
 * (one access(2) each): slow, but only ever in tests, and it lets a test flip faults from
 * outside the process at any moment. */
#include "store/fault_vfs.h"

#include "util/log.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { FAULT_PATH_MAX = 4096 };

typedef struct fault_file {
    sqlite3_file base;  /* our methods */
    sqlite3_file *real; /* the wrapped file, stored right after this header */
} fault_file;

static sqlite3_vfs *fault__real;
static sqlite3_vfs fault__vfs;
static char fault__dir[FAULT_PATH_MAX];
static char fault__fsync_path[FAULT_PATH_MAX + 16];
static char fault__write_path[FAULT_PATH_MAX + 16];
static pthread_mutex_t fault__mutex = PTHREAD_MUTEX_INITIALIZER;

static sqlite3_file *fault__inner(sqlite3_file *file)
{
    return ((fault_file *)file)->real;
}

static bool fault__armed(const char *path)
{
    return access(path, F_OK) == 0;
}

/* ---- file methods: forward, except xWrite and xSync while their fault is armed ---- */

static int fault__close(sqlite3_file *file)
{
    sqlite3_file *real = fault__inner(file);
    return real->pMethods->xClose(real);
}

static int fault__read(sqlite3_file *file, void *data, int amount, sqlite3_int64 offset)
{
    sqlite3_file *real = fault__inner(file);
    return real->pMethods->xRead(real, data, amount, offset);
}

static int fault__write(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset)
{
    if (fault__armed(fault__write_path)) {
        log_warn("fault_vfs: injected write failure (%s exists)", fault__write_path);
        return SQLITE_IOERR_WRITE;
    }
    sqlite3_file *real = fault__inner(file);
    return real->pMethods->xWrite(real, data, amount, offset);
}

static int fault__truncate(sqlite3_file *file, sqlite3_int64 size)
{
    sqlite3_file *real = fault__inner(file);
    return real->pMethods->xTruncate(real, size);
}

static int fault__sync(sqlite3_file *file, int flags)
{
    if (fault__armed(fault__fsync_path)) {
        log_warn("fault_vfs: injected fsync failure (%s exists)", fault__fsync_path);
        return SQLITE_IOERR_FSYNC;
    }
    sqlite3_file *real = fault__inner(file);
    return real->pMethods->xSync(real, flags);
}

static int fault__file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    sqlite3_file *real = fault__inner(file);
    return real->pMethods->xFileSize(real, size);
}

static int fault__lock(sqlite3_file *file, int level)
{
    sqlite3_file *real = fault__inner(file);
    return real->pMethods->xLock(real, level);
}

static int fault__unlock(sqlite3_file *file, int level)
{
    sqlite3_file *real = fault__inner(file);
    return real->pMethods->xUnlock(real, level);
}

static int fault__check_reserved_lock(sqlite3_file *file, int *out)
{
    sqlite3_file *real = fault__inner(file);
    return real->pMethods->xCheckReservedLock(real, out);
}

static int fault__file_control(sqlite3_file *file, int op, void *arg)
{
    sqlite3_file *real = fault__inner(file);
    return real->pMethods->xFileControl(real, op, arg);
}

static int fault__sector_size(sqlite3_file *file)
{
    sqlite3_file *real = fault__inner(file);
    return real->pMethods->xSectorSize(real);
}

static int fault__device_characteristics(sqlite3_file *file)
{
    sqlite3_file *real = fault__inner(file);
    return real->pMethods->xDeviceCharacteristics(real);
}

static int fault__shm_map(sqlite3_file *file, int page, int page_size, int extend,
                          void volatile **out)
{
    sqlite3_file *real = fault__inner(file);
    if (real->pMethods->iVersion < 2) return SQLITE_IOERR_SHMMAP;
    return real->pMethods->xShmMap(real, page, page_size, extend, out);
}

static int fault__shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    sqlite3_file *real = fault__inner(file);
    if (real->pMethods->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
    return real->pMethods->xShmLock(real, offset, n, flags);
}

static void fault__shm_barrier(sqlite3_file *file)
{
    sqlite3_file *real = fault__inner(file);
    if (real->pMethods->iVersion >= 2) real->pMethods->xShmBarrier(real);
}

static int fault__shm_unmap(sqlite3_file *file, int delete_flag)
{
    sqlite3_file *real = fault__inner(file);
    if (real->pMethods->iVersion < 2) return SQLITE_OK;
    return real->pMethods->xShmUnmap(real, delete_flag);
}

static int fault__fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out)
{
    sqlite3_file *real = fault__inner(file);
    if (real->pMethods->iVersion < 3) return *out = NULL, SQLITE_OK;
    return real->pMethods->xFetch(real, offset, amount, out);
}

static int fault__unfetch(sqlite3_file *file, sqlite3_int64 offset, void *page)
{
    sqlite3_file *real = fault__inner(file);
    if (real->pMethods->iVersion < 3) return SQLITE_OK;
    return real->pMethods->xUnfetch(real, offset, page);
}

static const sqlite3_io_methods fault__io_methods = {
    .iVersion = 3,
    .xClose = fault__close,
    .xRead = fault__read,
    .xWrite = fault__write,
    .xTruncate = fault__truncate,
    .xSync = fault__sync,
    .xFileSize = fault__file_size,
    .xLock = fault__lock,
    .xUnlock = fault__unlock,
    .xCheckReservedLock = fault__check_reserved_lock,
    .xFileControl = fault__file_control,
    .xSectorSize = fault__sector_size,
    .xDeviceCharacteristics = fault__device_characteristics,
    .xShmMap = fault__shm_map,
    .xShmLock = fault__shm_lock,
    .xShmBarrier = fault__shm_barrier,
    .xShmUnmap = fault__shm_unmap,
    .xFetch = fault__fetch,
    .xUnfetch = fault__unfetch,
};

/* ---- VFS methods: open wraps, the rest forwards to the real VFS ---- */

static int fault__open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                       int *out_flags)
{
    (void)vfs;
    fault_file *f = (fault_file *)file;
    f->real = (sqlite3_file *)(f + 1);
    int rc = fault__real->xOpen(fault__real, name, f->real, flags, out_flags);
    /* SQLite calls xClose only when pMethods is set, whatever xOpen returned */
    f->base.pMethods = f->real->pMethods ? &fault__io_methods : NULL;
    return rc;
}

static int fault__delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return fault__real->xDelete(fault__real, name, sync_dir);
}

static int fault__access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return fault__real->xAccess(fault__real, name, flags, out);
}

static int fault__full_pathname(sqlite3_vfs *vfs, const char *name, int cap, char *out)
{
    (void)vfs;
    return fault__real->xFullPathname(fault__real, name, cap, out);
}

static void *fault__dl_open(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return fault__real->xDlOpen(fault__real, name);
}

static void fault__dl_error(sqlite3_vfs *vfs, int cap, char *out)
{
    (void)vfs;
    fault__real->xDlError(fault__real, cap, out);
}

static void (*fault__dl_sym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void)
{
    (void)vfs;
    return fault__real->xDlSym(fault__real, handle, symbol);
}

static void fault__dl_close(sqlite3_vfs *vfs, void *handle)
{
    (void)vfs;
    fault__real->xDlClose(fault__real, handle);
}

static int fault__randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return fault__real->xRandomness(fault__real, n, out);
}

static int fault__sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return fault__real->xSleep(fault__real, us);
}

static int fault__current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return fault__real->xCurrentTime(fault__real, out);
}

static int fault__last_error(sqlite3_vfs *vfs, int cap, char *out)
{
    (void)vfs;
    return fault__real->xGetLastError ? fault__real->xGetLastError(fault__real, cap, out) : 0;
}

static int fault__current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    if (fault__real->iVersion >= 2 && fault__real->xCurrentTimeInt64)
        return fault__real->xCurrentTimeInt64(fault__real, out);
    double days;
    int rc = fault__real->xCurrentTime(fault__real, &days);
    *out = (sqlite3_int64)(days * 86400000.0);
    return rc;
}

int fault_vfs_register(const char *fault_dir)
{
    int rc = 0;
    pthread_mutex_lock(&fault__mutex);
    if (fault__real) { /* registered already */
        if (strcmp(fault__dir, fault_dir) != 0) {
            log_error("fault_vfs: already watching %s, not %s", fault__dir, fault_dir);
            rc = -1;
        }
        goto done;
    }
    if (strlen(fault_dir) >= sizeof(fault__dir)) {
        log_error("fault_vfs: fault dir path too long");
        rc = -1;
        goto done;
    }
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);
    if (!real) {
        log_error("fault_vfs: SQLite has no default VFS to wrap");
        rc = -1;
        goto done;
    }
    snprintf(fault__dir, sizeof(fault__dir), "%s", fault_dir);
    snprintf(fault__fsync_path, sizeof(fault__fsync_path), "%s/fail-fsync", fault_dir);
    snprintf(fault__write_path, sizeof(fault__write_path), "%s/fail-write", fault_dir);
    fault__vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(fault_file) + real->szOsFile,
        .mxPathname = real->mxPathname,
        .zName = FAULT_VFS_NAME,
        .xOpen = fault__open,
        .xDelete = fault__delete,
        .xAccess = fault__access,
        .xFullPathname = fault__full_pathname,
        .xDlOpen = fault__dl_open,
        .xDlError = fault__dl_error,
        .xDlSym = fault__dl_sym,
        .xDlClose = fault__dl_close,
        .xRandomness = fault__randomness,
        .xSleep = fault__sleep,
        .xCurrentTime = fault__current_time,
        .xGetLastError = fault__last_error,
        .xCurrentTimeInt64 = fault__current_time_int64,
    };
    fault__real = real;
    if (sqlite3_vfs_register(&fault__vfs, 0) != SQLITE_OK) {
        log_error("fault_vfs: cannot register the VFS");
        fault__real = NULL;
        rc = -1;
        goto done;
    }
    log_warn("fault_vfs: TEST ONLY: storage faults armed by files in %s (fail-fsync, fail-write)",
             fault_dir);
done:
    pthread_mutex_unlock(&fault__mutex);
    return rc;
}
