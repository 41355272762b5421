// A SQLite VFS over the platform's own that writes a transaction's WAL frames to the file in one
// call instead of two per page. Same bytes, same order, same fsyncs: nothing is acknowledged
// before the frames are on disk, since every xSync writes what is pending first.
#pragma once

namespace dh::store::sqlite {

// The VFS's name for sqlite3_open_v2, registered (not as the default) on first use.
const char* wal_batch_vfs();

}  // namespace dh::store::sqlite
