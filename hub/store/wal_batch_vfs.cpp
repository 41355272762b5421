// SQLite writes each WAL frame as two pwrite calls, its 24-byte header and then the page: under
// load ~100 frames per group commit, and on this machine's virtualised kernel every system call
// is dear (docs/performance.md, "Fifth pass"). Here a WAL file keeps the bytes written to it as
// one contiguous pending run and hands them to the platform's file in one call before anything
// that could see the file otherwise: a sync (so a commit is on disk exactly when SQLite says it
// is), an overlapping read, a write elsewhere (a frame rewritten in place, the header of a
// restarted WAL), a size query or change, a file control, close. Only files SQLite opens as WAL
// are wrapped; the database file and everything else are the platform VFS's own.
#include "hub/store/wal_batch_vfs.hpp"

#include <cassert>
#include <cstddef>
#include <new>
#include <sqlite3.h>
#include <vector>

namespace dh::store::sqlite {
namespace {

// The unix VFS writes at most 128 KiB - 1 per call (seekAndWriteFd masks the length with 0x1ffff
// and answers SQLITE_FULL for the rest), so a run is written on once it would pass that: 31 frames
// of 4 KiB pages per call instead of 62 calls.
constexpr std::size_t kMaxPending = 0x1ffff;

struct WalFile {
  sqlite3_file base{};            // first: SQLite holds a WalFile as a sqlite3_file
  sqlite3_file* inner = nullptr;  // the platform's file, in the memory after this struct
  sqlite3_int64 start = 0;        // file offset of pending[0]
  std::vector<char> pending;
};

constexpr int kWalFileSize = static_cast<int>((sizeof(WalFile) + 7) & ~std::size_t{7});

WalFile* wal(sqlite3_file* f) {
  return reinterpret_cast<WalFile*>(f);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): the VFS contract
}

sqlite3_int64 pending_end(const WalFile* w) {
  return w->start + static_cast<sqlite3_int64>(w->pending.size());
}

int flush(WalFile* w) {
  if (w->pending.empty()) return SQLITE_OK;
  const int rc = w->inner->pMethods->xWrite(w->inner, w->pending.data(), static_cast<int>(w->pending.size()), w->start);
  w->pending.clear();  // on failure SQLite rolls the transaction back: those frames are never used
  return rc;
}

int wal_close(sqlite3_file* f) {
  auto* w = wal(f);
  const int flushed = flush(w);
  const int closed = w->inner->pMethods->xClose(w->inner);
  w->~WalFile();
  return flushed != SQLITE_OK ? flushed : closed;
}

int wal_read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  auto* w = wal(f);
  if (!w->pending.empty() && offset < pending_end(w) && offset + amount > w->start) {
    if (const int rc = flush(w); rc != SQLITE_OK) return rc;
  }
  return w->inner->pMethods->xRead(w->inner, out, amount, offset);
}

int wal_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  auto* w = wal(f);
  const auto n = static_cast<std::size_t>(amount);
  if (!w->pending.empty() && (offset != pending_end(w) || w->pending.size() + n > kMaxPending)) {
    if (const int rc = flush(w); rc != SQLITE_OK) return rc;
  }
  if (n > kMaxPending) return w->inner->pMethods->xWrite(w->inner, data, amount, offset);
  if (w->pending.empty()) w->start = offset;
  const auto* bytes = static_cast<const char*>(data);
  w->pending.insert(w->pending.end(), bytes, bytes + n);
  return SQLITE_OK;
}

int wal_truncate(sqlite3_file* f, sqlite3_int64 size) {
  auto* w = wal(f);
  if (const int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->inner->pMethods->xTruncate(w->inner, size);
}

int wal_sync(sqlite3_file* f, int flags) {
  auto* w = wal(f);
  if (const int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->inner->pMethods->xSync(w->inner, flags);
}

int wal_file_size(sqlite3_file* f, sqlite3_int64* size) {
  auto* w = wal(f);
  if (const int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->inner->pMethods->xFileSize(w->inner, size);
}

int wal_lock(sqlite3_file* f, int level) {
  auto* in = wal(f)->inner;
  return in->pMethods->xLock(in, level);
}

int wal_unlock(sqlite3_file* f, int level) {
  auto* in = wal(f)->inner;
  return in->pMethods->xUnlock(in, level);
}

int wal_check_reserved_lock(sqlite3_file* f, int* out) {
  auto* in = wal(f)->inner;
  return in->pMethods->xCheckReservedLock(in, out);
}

int wal_file_control(sqlite3_file* f, int op, void* arg) {
  auto* w = wal(f);
  if (const int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->inner->pMethods->xFileControl(w->inner, op, arg);
}

int wal_sector_size(sqlite3_file* f) {
  auto* in = wal(f)->inner;
  return in->pMethods->xSectorSize(in);
}

int wal_device_characteristics(sqlite3_file* f) {
  auto* in = wal(f)->inner;
  return in->pMethods->xDeviceCharacteristics(in);
}

// The shared-memory and mmap methods belong to the database file; a WAL file passes them on.
int wal_shm_map(sqlite3_file* f, int page, int page_size, int extend, void volatile** out) {
  auto* in = wal(f)->inner;
  return in->pMethods->iVersion >= 2 ? in->pMethods->xShmMap(in, page, page_size, extend, out) : SQLITE_IOERR;
}

int wal_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  auto* in = wal(f)->inner;
  return in->pMethods->iVersion >= 2 ? in->pMethods->xShmLock(in, offset, n, flags) : SQLITE_IOERR;
}

void wal_shm_barrier(sqlite3_file* f) {
  auto* in = wal(f)->inner;
  if (in->pMethods->iVersion >= 2) in->pMethods->xShmBarrier(in);
}

int wal_shm_unmap(sqlite3_file* f, int delete_flag) {
  auto* in = wal(f)->inner;
  return in->pMethods->iVersion >= 2 ? in->pMethods->xShmUnmap(in, delete_flag) : SQLITE_OK;
}

int wal_fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  auto* w = wal(f);
  *out = nullptr;  // "no mapping": SQLite reads instead
  if (w->inner->pMethods->iVersion < 3) return SQLITE_OK;
  if (const int rc = flush(w); rc != SQLITE_OK) return rc;
  return w->inner->pMethods->xFetch(w->inner, offset, amount, out);
}

int wal_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  auto* in = wal(f)->inner;
  return in->pMethods->iVersion >= 3 ? in->pMethods->xUnfetch(in, offset, p) : SQLITE_OK;
}

const sqlite3_io_methods kWalMethods = {
    3,
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    wal_lock,
    wal_unlock,
    wal_check_reserved_lock,
    wal_file_control,
    wal_sector_size,
    wal_device_characteristics,
    wal_shm_map,
    wal_shm_lock,
    wal_shm_barrier,
    wal_shm_unmap,
    wal_fetch,
    wal_unfetch,
};

// ---------------------------------------------------------------- the VFS: the platform's, but xOpen

sqlite3_vfs* platform(sqlite3_vfs* self) {
  return static_cast<sqlite3_vfs*>(self->pAppData);
}

int vfs_open(sqlite3_vfs* self, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  sqlite3_vfs* real = platform(self);
  if ((flags & SQLITE_OPEN_WAL) == 0) return real->xOpen(real, name, file, flags, out_flags);
  auto* w = new (file) WalFile{};              // SQLite gives szOsFile bytes: this struct, then the platform's file
  w->inner = reinterpret_cast<sqlite3_file*>(  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
      reinterpret_cast<char*>(file) + kWalFileSize);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  const int rc = real->xOpen(real, name, w->inner, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (w->inner->pMethods != nullptr) w->inner->pMethods->xClose(w->inner);
    w->~WalFile();
    file->pMethods = nullptr;  // nothing for SQLite to close
    return rc;
  }
  w->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

int vfs_delete(sqlite3_vfs* self, const char* name, int sync_dir) {
  return platform(self)->xDelete(platform(self), name, sync_dir);
}
int vfs_access(sqlite3_vfs* self, const char* name, int flags, int* out) {
  return platform(self)->xAccess(platform(self), name, flags, out);
}
int vfs_full_pathname(sqlite3_vfs* self, const char* name, int n, char* out) {
  return platform(self)->xFullPathname(platform(self), name, n, out);
}
void* vfs_dl_open(sqlite3_vfs* self, const char* name) {
  return platform(self)->xDlOpen(platform(self), name);
}
void vfs_dl_error(sqlite3_vfs* self, int n, char* out) {
  platform(self)->xDlError(platform(self), n, out);
}
void (*vfs_dl_sym(sqlite3_vfs* self, void* handle, const char* symbol))() {
  return platform(self)->xDlSym(platform(self), handle, symbol);
}
void vfs_dl_close(sqlite3_vfs* self, void* handle) {
  platform(self)->xDlClose(platform(self), handle);
}
int vfs_randomness(sqlite3_vfs* self, int n, char* out) {
  return platform(self)->xRandomness(platform(self), n, out);
}
int vfs_sleep(sqlite3_vfs* self, int microseconds) {
  return platform(self)->xSleep(platform(self), microseconds);
}
int vfs_current_time(sqlite3_vfs* self, double* out) {
  return platform(self)->xCurrentTime(platform(self), out);
}
int vfs_get_last_error(sqlite3_vfs* self, int n, char* out) {
  return platform(self)->xGetLastError(platform(self), n, out);
}
int vfs_current_time_int64(sqlite3_vfs* self, sqlite3_int64* out) {
  return platform(self)->xCurrentTimeInt64(platform(self), out);
}

sqlite3_vfs make_vfs() {
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  assert(real != nullptr && real->iVersion >= 2);  // the unix VFS is version 3
  sqlite3_vfs v{};
  v.iVersion = 2;
  v.szOsFile = kWalFileSize + real->szOsFile;
  v.mxPathname = real->mxPathname;
  v.zName = "dh-wal-batch";
  v.pAppData = real;
  v.xOpen = vfs_open;
  v.xDelete = vfs_delete;
  v.xAccess = vfs_access;
  v.xFullPathname = vfs_full_pathname;
  v.xDlOpen = vfs_dl_open;
  v.xDlError = vfs_dl_error;
  v.xDlSym = vfs_dl_sym;
  v.xDlClose = vfs_dl_close;
  v.xRandomness = vfs_randomness;
  v.xSleep = vfs_sleep;
  v.xCurrentTime = vfs_current_time;
  v.xGetLastError = vfs_get_last_error;
  v.xCurrentTimeInt64 = vfs_current_time_int64;
  return v;
}

}  // namespace

const char* wal_batch_vfs() {
  static sqlite3_vfs vfs = make_vfs();
  [[maybe_unused]] static const int registered = sqlite3_vfs_register(&vfs, 0);
  assert(registered == SQLITE_OK);
  return vfs.zName;
}

}  // namespace dh::store::sqlite
