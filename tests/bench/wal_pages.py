#!/usr/bin/env python3
"""Which tables and indexes the embedded store's commits write (docs/performance.md, "Fourth pass").

Reads the frames of a SQLite WAL file, groups them into commits, and names the B-tree each
frame's page belongs to (SQLite's dbstat table). Every frame is a whole page written to the WAL
and later copied into the database by a checkpoint, so frames per commit, by B-tree, say where
the store's write volume goes.

    cp hub.db hub.db-wal /tmp/snap/      # while the hub is stopped (kill -STOP) or after a crash
    tests/bench/wal_pages.py /tmp/snap/hub.db [--commits 200]

It opens a copy of the files (SQLite replays the WAL into it); the originals are not touched.
"""
import argparse
import collections
import os
import shutil
import sqlite3
import struct
import sys
import tempfile


def commits_in(wal_path):
    """The page numbers of each committed transaction in the WAL, oldest first."""
    with open(wal_path, "rb") as f:
        wal = f.read()
    if len(wal) < 32:
        return [], 0
    _magic, _version, page_size, _seq, salt1, salt2, _c1, _c2 = struct.unpack(">IIIIIIII", wal[:32])
    commits, current, off = [], [], 32
    while off + 24 + page_size <= len(wal):
        page, db_size, s1, s2, _k1, _k2 = struct.unpack(">IIIIII", wal[off:off + 24])
        if (s1, s2) != (salt1, salt2):  # frames left over from before the WAL was restarted
            break
        current.append(page)
        if db_size:  # a commit frame ends a transaction
            commits.append(current)
            current = []
        off += 24 + page_size
    return commits, page_size


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db", help="the database file; its -wal file must be beside it")
    ap.add_argument("--commits", type=int, default=200, help="the last N commits (default 200)")
    a = ap.parse_args()
    wal = a.db + "-wal"
    if not os.path.exists(wal):
        sys.exit(f"wal_pages.py: no {wal}")
    commits, page_size = commits_in(wal)
    if not commits:
        sys.exit("wal_pages.py: no committed frames in the WAL")
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "copy.db")
        shutil.copy(a.db, copy)
        shutil.copy(wal, copy + "-wal")
        db = sqlite3.connect(copy)
        owner = {page: name for name, page in db.execute("SELECT name, pageno FROM dbstat")}
        db.close()
    last = commits[-a.commits:]
    by_tree = collections.Counter(owner.get(p, "(free or new page)") for c in last for p in c)
    frames = sum(len(c) for c in last)
    print(f"{len(last)} commits, {frames / len(last):.1f} frames per commit ({page_size} bytes each)")
    for name, n in by_tree.most_common():
        print(f"  {name:<36} {n / len(last):7.2f} per commit  {100 * n / frames:5.1f} %")


if __name__ == "__main__":
    main()
