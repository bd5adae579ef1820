/* vfs_shim: see vfs_shim.h. A classic SQLite shim: each file we open is our small header
 * followed by the real VFS's file object (szOsFile is the sum), and every method forwards to
 * the real one, after writing a WAL frame header it holds (vfs__settle). While a fault
 * directory is set (tests only), whether a fault is armed is asked of the file system at each
 * xWrite/xSync (one access(2) each), so that a test can flip faults from outside the process. */
#include "store/vfs_shim.h"

#include "metrics/metrics.h"
#include "util/clock.h"
#include "util/log.h"

#include <assert.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    VFS_PATH_MAX = 4096,
    VFS_WAL_FRAME_HEADER = 24, /* SQLite's WAL_FRAME_HDRSIZE */
    VFS_JOIN_PAGE_MAX = 65536, /* SQLite's largest page */
};

typedef struct vfs_file {
    sqlite3_file base;  /* our methods */
    sqlite3_file *real; /* the wrapped file, stored right after this header */
    bool wal;           /* a WAL file: frame headers wait for their page */
    bool held;          /* header holds a frame header not written yet, for held_offset */
    sqlite3_int64 held_offset;
    unsigned char header[VFS_WAL_FRAME_HEADER];
    unsigned char *join; /* header + page, for the joined write; join_cap bytes */
    int join_cap;
} vfs_file;

static sqlite3_vfs *vfs__real;
static sqlite3_vfs vfs__vfs;
static pthread_mutex_t vfs__mutex = PTHREAD_MUTEX_INITIALIZER;
/* the fault directory (tests only): its two files' paths, under vfs__mutex */
static atomic_bool vfs__faults_on;
static char vfs__fsync_path[VFS_PATH_MAX + 16];
static char vfs__write_path[VFS_PATH_MAX + 16];
static atomic_uint_fast64_t vfs__wal_asked, vfs__wal_made;

static vfs_file *vfs__of(sqlite3_file *file)
{
    return (vfs_file *)file;
}

static sqlite3_file *vfs__inner(sqlite3_file *file)
{
    return vfs__of(file)->real;
}

/* True while the fault file of which (0: fsync, 1: write) exists. */
static bool vfs__fault_armed(int which)
{
    if (!atomic_load_explicit(&vfs__faults_on, memory_order_relaxed)) return false;
    char path[VFS_PATH_MAX + 16];
    pthread_mutex_lock(&vfs__mutex);
    memcpy(path, which ? vfs__write_path : vfs__fsync_path, sizeof(path));
    pthread_mutex_unlock(&vfs__mutex);
    if (!path[0] || access(path, F_OK) != 0) return false;
    log_warn("vfs_shim: injected %s failure (%s exists)", which ? "write" : "fsync", path);
    return true;
}

/* One write to the wrapped file (counted when it is a WAL file's). */
static int vfs__write_real(vfs_file *f, const void *data, int amount, sqlite3_int64 offset)
{
    if (f->wal) atomic_fetch_add_explicit(&vfs__wal_made, 1, memory_order_relaxed);
    return f->real->pMethods->xWrite(f->real, data, amount, offset);
}

/* Write the frame header the file holds, if any. Every method but xWrite calls it first. */
static int vfs__settle(sqlite3_file *file)
{
    vfs_file *f = vfs__of(file);
    if (!f->held) return SQLITE_OK;
    f->held = false;
    return vfs__write_real(f, f->header, VFS_WAL_FRAME_HEADER, f->held_offset);
}

/* ---- file methods ---- */

static int vfs__close(sqlite3_file *file)
{
    vfs_file *f = vfs__of(file);
    int settled = vfs__settle(file);
    free(f->join);
    f->join = NULL;
    int rc = f->real->pMethods->xClose(f->real);
    return settled != SQLITE_OK ? settled : rc;
}

static int vfs__read(sqlite3_file *file, void *data, int amount, sqlite3_int64 offset)
{
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    return real->pMethods->xRead(real, data, amount, offset);
}

/* A WAL frame: hold its header, then write header and page in one call. Anything else (or a
 * header that cannot be joined) is written as it comes, after what is held. */
static int vfs__write(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset)
{
    vfs_file *f = vfs__of(file);
    if (vfs__fault_armed(1)) {
        f->held = false; /* the frame fails whole */
        return SQLITE_IOERR_WRITE;
    }
    if (!f->wal) return vfs__write_real(f, data, amount, offset);
    atomic_fetch_add_explicit(&vfs__wal_asked, 1, memory_order_relaxed);
    if (f->held && offset == f->held_offset + VFS_WAL_FRAME_HEADER && amount <= VFS_JOIN_PAGE_MAX) {
        int need = VFS_WAL_FRAME_HEADER + amount;
        if (f->join_cap < need) {
            unsigned char *grown = realloc(f->join, (size_t)need);
            if (grown) f->join = grown, f->join_cap = need;
        }
        if (f->join_cap >= need) {
            memcpy(f->join, f->header, VFS_WAL_FRAME_HEADER);
            memcpy(f->join + VFS_WAL_FRAME_HEADER, data, (size_t)amount);
            f->held = false;
            return vfs__write_real(f, f->join, need, f->held_offset);
        }
    }
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    if (amount == VFS_WAL_FRAME_HEADER) {
        memcpy(f->header, data, VFS_WAL_FRAME_HEADER);
        f->held_offset = offset;
        f->held = true;
        return SQLITE_OK;
    }
    return vfs__write_real(f, data, amount, offset);
}

static int vfs__truncate(sqlite3_file *file, sqlite3_int64 size)
{
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    return real->pMethods->xTruncate(real, size);
}

static int vfs__sync(sqlite3_file *file, int flags)
{
    if (vfs__fault_armed(0)) return SQLITE_IOERR_FSYNC;
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    int64_t started_us = clock_mono_us();
    rc = real->pMethods->xSync(real, flags);
    metrics_fsync(clock_mono_us() - started_us);
    return rc;
}

static int vfs__file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    return real->pMethods->xFileSize(real, size);
}

static int vfs__lock(sqlite3_file *file, int level)
{
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    return real->pMethods->xLock(real, level);
}

static int vfs__unlock(sqlite3_file *file, int level)
{
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    return real->pMethods->xUnlock(real, level);
}

static int vfs__check_reserved_lock(sqlite3_file *file, int *out)
{
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    return real->pMethods->xCheckReservedLock(real, out);
}

static int vfs__file_control(sqlite3_file *file, int op, void *arg)
{
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    return real->pMethods->xFileControl(real, op, arg);
}

static int vfs__sector_size(sqlite3_file *file)
{
    sqlite3_file *real = vfs__inner(file);
    return real->pMethods->xSectorSize(real);
}

static int vfs__device_characteristics(sqlite3_file *file)
{
    sqlite3_file *real = vfs__inner(file);
    return real->pMethods->xDeviceCharacteristics(real);
}

static int vfs__shm_map(sqlite3_file *file, int page, int page_size, int extend,
                        void volatile **out)
{
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    if (real->pMethods->iVersion < 2) return SQLITE_IOERR_SHMMAP;
    return real->pMethods->xShmMap(real, page, page_size, extend, out);
}

static int vfs__shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    if (real->pMethods->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
    return real->pMethods->xShmLock(real, offset, n, flags);
}

static void vfs__shm_barrier(sqlite3_file *file)
{
    if (vfs__settle(file) != SQLITE_OK) log_error("vfs_shim: a WAL frame header failed to write");
    sqlite3_file *real = vfs__inner(file);
    if (real->pMethods->iVersion >= 2) real->pMethods->xShmBarrier(real);
}

static int vfs__shm_unmap(sqlite3_file *file, int delete_flag)
{
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    if (real->pMethods->iVersion < 2) return SQLITE_OK;
    return real->pMethods->xShmUnmap(real, delete_flag);
}

static int vfs__fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out)
{
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    if (real->pMethods->iVersion < 3) return *out = NULL, SQLITE_OK;
    return real->pMethods->xFetch(real, offset, amount, out);
}

static int vfs__unfetch(sqlite3_file *file, sqlite3_int64 offset, void *page)
{
    int rc = vfs__settle(file);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = vfs__inner(file);
    if (real->pMethods->iVersion < 3) return SQLITE_OK;
    return real->pMethods->xUnfetch(real, offset, page);
}

static const sqlite3_io_methods vfs__io_methods = {
    .iVersion = 3,
    .xClose = vfs__close,
    .xRead = vfs__read,
    .xWrite = vfs__write,
    .xTruncate = vfs__truncate,
    .xSync = vfs__sync,
    .xFileSize = vfs__file_size,
    .xLock = vfs__lock,
    .xUnlock = vfs__unlock,
    .xCheckReservedLock = vfs__check_reserved_lock,
    .xFileControl = vfs__file_control,
    .xSectorSize = vfs__sector_size,
    .xDeviceCharacteristics = vfs__device_characteristics,
    .xShmMap = vfs__shm_map,
    .xShmLock = vfs__shm_lock,
    .xShmBarrier = vfs__shm_barrier,
    .xShmUnmap = vfs__shm_unmap,
    .xFetch = vfs__fetch,
    .xUnfetch = vfs__unfetch,
};

/* ---- VFS methods: open wraps, the rest forwards to the real VFS ---- */

static int vfs__open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                     int *out_flags)
{
    (void)vfs;
    vfs_file *f = vfs__of(file);
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)(f + 1);
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = vfs__real->xOpen(vfs__real, name, f->real, flags, out_flags);
    /* SQLite calls xClose only when pMethods is set, whatever xOpen returned */
    f->base.pMethods = f->real->pMethods ? &vfs__io_methods : NULL;
    return rc;
}

static int vfs__delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return vfs__real->xDelete(vfs__real, name, sync_dir);
}

static int vfs__access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return vfs__real->xAccess(vfs__real, name, flags, out);
}

static int vfs__full_pathname(sqlite3_vfs *vfs, const char *name, int cap, char *out)
{
    (void)vfs;
    return vfs__real->xFullPathname(vfs__real, name, cap, out);
}

static void *vfs__dl_open(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return vfs__real->xDlOpen(vfs__real, name);
}

static void vfs__dl_error(sqlite3_vfs *vfs, int cap, char *out)
{
    (void)vfs;
    vfs__real->xDlError(vfs__real, cap, out);
}

static void (*vfs__dl_sym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void)
{
    (void)vfs;
    return vfs__real->xDlSym(vfs__real, handle, symbol);
}

static void vfs__dl_close(sqlite3_vfs *vfs, void *handle)
{
    (void)vfs;
    vfs__real->xDlClose(vfs__real, handle);
}

static int vfs__randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return vfs__real->xRandomness(vfs__real, n, out);
}

static int vfs__sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return vfs__real->xSleep(vfs__real, us);
}

static int vfs__current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return vfs__real->xCurrentTime(vfs__real, out);
}

static int vfs__last_error(sqlite3_vfs *vfs, int cap, char *out)
{
    (void)vfs;
    return vfs__real->xGetLastError ? vfs__real->xGetLastError(vfs__real, cap, out) : 0;
}

static int vfs__current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    if (vfs__real->iVersion >= 2 && vfs__real->xCurrentTimeInt64)
        return vfs__real->xCurrentTimeInt64(vfs__real, out);
    double days;
    int rc = vfs__real->xCurrentTime(vfs__real, &days);
    *out = (sqlite3_int64)(days * 86400000.0);
    return rc;
}

/* Set the fault directory's paths ("" or NULL: none). Called with vfs__mutex held. */
static int vfs__set_fault_dir(const char *fault_dir)
{
    if (!fault_dir || !fault_dir[0]) {
        vfs__fsync_path[0] = vfs__write_path[0] = '\0';
        atomic_store(&vfs__faults_on, false);
        return 0;
    }
    if (strlen(fault_dir) >= VFS_PATH_MAX) {
        log_error("vfs_shim: fault dir path too long");
        return -1;
    }
    bool was_on = atomic_load(&vfs__faults_on);
    snprintf(vfs__fsync_path, sizeof(vfs__fsync_path), "%s/fail-fsync", fault_dir);
    snprintf(vfs__write_path, sizeof(vfs__write_path), "%s/fail-write", fault_dir);
    atomic_store(&vfs__faults_on, true);
    if (!was_on)
        log_warn("vfs_shim: TEST ONLY: storage faults armed by files in %s (fail-fsync, "
                 "fail-write)",
                 fault_dir);
    return 0;
}

int vfs_shim_register(const char *fault_dir)
{
    int rc = 0;
    pthread_mutex_lock(&vfs__mutex);
    if (!vfs__real) {
        sqlite3_vfs *real = sqlite3_vfs_find(NULL);
        if (!real) {
            log_error("vfs_shim: SQLite has no default VFS to wrap");
            rc = -1;
            goto done;
        }
        vfs__vfs = (sqlite3_vfs){
            .iVersion = 2,
            .szOsFile = (int)sizeof(vfs_file) + real->szOsFile,
            .mxPathname = real->mxPathname,
            .zName = VFS_SHIM_NAME,
            .xOpen = vfs__open,
            .xDelete = vfs__delete,
            .xAccess = vfs__access,
            .xFullPathname = vfs__full_pathname,
            .xDlOpen = vfs__dl_open,
            .xDlError = vfs__dl_error,
            .xDlSym = vfs__dl_sym,
            .xDlClose = vfs__dl_close,
            .xRandomness = vfs__randomness,
            .xSleep = vfs__sleep,
            .xCurrentTime = vfs__current_time,
            .xGetLastError = vfs__last_error,
            .xCurrentTimeInt64 = vfs__current_time_int64,
        };
        vfs__real = real;
        if (sqlite3_vfs_register(&vfs__vfs, 0) != SQLITE_OK) {
            log_error("vfs_shim: cannot register the VFS");
            vfs__real = NULL;
            rc = -1;
            goto done;
        }
    }
    rc = vfs__set_fault_dir(fault_dir);
done:
    pthread_mutex_unlock(&vfs__mutex);
    return rc;
}

void vfs_shim_wal_writes(uint64_t *asked, uint64_t *made)
{
    *asked = atomic_load(&vfs__wal_asked);
    *made = atomic_load(&vfs__wal_made);
}
