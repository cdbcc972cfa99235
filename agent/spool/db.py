"""The spool's SQLite schema, migrations, lock and the operations shared by the agent
and the offline CLI (``siemrelay dlq replay`` while no agent runs).

Kept apart from :mod:`agent.spool` so the CLI can open a spool without starting a
writer thread, and so every statement that touches the tables lives in one place.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from agent.spool.errors import SpoolError
from agent.spool.segments import Run, events_after, pack_ends, runs, unpack_ends

__all__ = ["SCHEMA_VERSION", "MAX_SINKS", "SpoolError", "connect", "open_checked", "SpoolLock", "select_dead",
           "requeue", "purge", "gc_range", "next_seq", "event_id_of", "make_private_dir", "make_private_file",
           "DIR_MODE_MAX", "FILE_MODE_MAX", "insert_runs", "queued_events", "backlog", "dead_letter_rest", "clear_bit",
           "stored_bytes"]

#: The widest modes the state directory and the spool's files keep: the spool holds
#: event bodies and dead letters (findings, tokens a sender leaked, personal data), so
#: at most the owner's group may read them, whatever the umask the agent started with.
DIR_MODE_MAX = 0o750
FILE_MODE_MAX = 0o640

MAX_SINKS = 63
SCHEMA_VERSION = 3

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sinks (name TEXT PRIMARY KEY, bit INTEGER NOT NULL UNIQUE, cursor INTEGER NOT NULL,
    retry_seq INTEGER, attempts INTEGER NOT NULL DEFAULT 0, first_attempt REAL, last_attempt REAL, last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS segments (base INTEGER PRIMARY KEY, last INTEGER NOT NULL, mask INTEGER NOT NULL,
    size INTEGER NOT NULL, ends BLOB NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS segments_last ON segments (last);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY, sink TEXT, input TEXT, event_id TEXT, data BLOB NOT NULL, reason TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, first_attempt REAL, last_attempt REAL, last_error TEXT, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS dead_letters_sink ON dead_letters (sink, id);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, sink TEXT NOT NULL, time REAL NOT NULL, batch_size INTEGER NOT NULL, event_ids TEXT NOT NULL,
    status TEXT NOT NULL, code INTEGER, success INTEGER NOT NULL, attempt INTEGER NOT NULL, latency_ms REAL NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS deliveries_sink ON deliveries (sink, id);
CREATE INDEX IF NOT EXISTS deliveries_time ON deliveries (time);
CREATE TABLE IF NOT EXISTS control (
    id INTEGER PRIMARY KEY, action TEXT NOT NULL, sink TEXT, ids TEXT, created REAL NOT NULL,
    done REAL, result INTEGER, error TEXT);
"""

# version 1 → 2: persisted retry state per sink, the control table, the history time index
_MIGRATE_1 = [
    "ALTER TABLE sinks ADD COLUMN retry_seq INTEGER",
    "ALTER TABLE sinks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE sinks ADD COLUMN first_attempt REAL",
    "ALTER TABLE sinks ADD COLUMN last_attempt REAL",
    "ALTER TABLE sinks ADD COLUMN last_error TEXT",
    "ALTER TABLE sinks ADD COLUMN failures INTEGER NOT NULL DEFAULT 0",
]


def _create_tables(conn: sqlite3.Connection) -> None:
    """Run the DDL statement by statement (``executescript`` would commit the caller's transaction)."""
    for statement in _DDL.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migrate_2(conn: sqlite3.Connection) -> None:
    """Version 2 → 3: the events of the ``events`` table (one row each) become segments.

    Consecutive rows with the same mask and no gap between their sequence numbers make
    one segment, so cursors, masks and sequence numbers keep their meaning exactly.
    """
    _create_tables(conn)
    base, last, mask = 0, -1, -1
    datas: list[bytes] = []
    for seq, row_mask, data in conn.cursor().execute("SELECT seq, mask, data FROM events ORDER BY seq"):
        if row_mask != mask or seq != last + 1 or len(datas) >= 2000:
            if datas:
                _insert_segment(conn, base, mask, datas)
            base, mask, datas = seq, row_mask, []
        datas.append(bytes(data))
        last = seq
    if datas:
        _insert_segment(conn, base, mask, datas)
    conn.execute("DROP TABLE events")


def _narrow(path: Path, widest: int) -> None:
    """Drop the permission bits of ``path`` beyond ``widest`` (only when we own it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    mode = st.st_mode & 0o7777
    if mode & ~widest and st.st_uid == os.geteuid():
        os.chmod(path, mode & widest)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) mode 0700; narrow an existing one to at most 0750.

    :raises OSError: it cannot be created.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _narrow(path, DIR_MODE_MAX)


def make_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; narrow an existing one to at most 0640.

    SQLite gives the ``-wal`` and ``-shm`` files the database file's mode, so creating
    the database this way before SQLite opens it covers them too.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        _narrow(path, FILE_MODE_MAX)


def connect(path: Path, sync: str = "full") -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, busy timeout."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30.0)
    # a new database only (an existing one keeps its page size): segments are ~1 MB blobs, and
    # 16 KiB pages halve the overflow pages SQLite chains and writes for each (measured: about
    # half the insert CPU and fsync time per segment of 2,000 events)
    conn.execute("PRAGMA page_size=16384")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=30000")
    # SQLite built with SECURE_DELETE (Debian's is) zeroes every page a DELETE frees: each
    # delivered segment's bytes went through the WAL, its fsync and a checkpoint a second
    # time, as zeros (measured: 5.2 → 2.1 ns of CPU and 17 → 5.4 ns of wall time per stored
    # byte for 2 MB segments inserted and deleted). FAST still zeroes the b-tree pages when
    # that costs no extra I/O, not the overflow pages holding the events; docs/delivery.md
    # says what stays on disk. The same on every build, whatever its compile-time default.
    conn.execute("PRAGMA secure_delete=FAST")
    return conn


def open_checked(path: Path, sync: str = "full") -> sqlite3.Connection:
    """Open the database, create or migrate its tables, and prove it is readable.

    :raises SpoolError: not an SQLite database, corrupt, or from a newer siemrelay.
        The file is never modified or deleted in that case.
    """
    conn: sqlite3.Connection | None = None
    try:
        if path.exists() and path.stat().st_size:
            with open(path, "rb") as fh:
                if fh.read(16) != b"SQLite format 3\x00":
                    raise sqlite3.DatabaseError("file is not a database")
        for existing in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if existing.exists():
                _narrow(existing, FILE_MODE_MAX)
        make_private_file(path)
        conn = connect(path, sync)
        has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone()
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() if has_meta else None
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            conn.close()
            raise SpoolError(f"spool {path} has schema version {row[0]}, this siemrelay knows up to {SCHEMA_VERSION}; "
                             "use the siemrelay version that wrote it")
        if row is not None and int(row[0]) < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if int(row[0]) == 1:
                    for stmt in _MIGRATE_1:
                        conn.execute(stmt)
                _migrate_2(conn)
                conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        _create_tables(conn)
        if row is None:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        conn.execute("SELECT count(*) FROM sinks").fetchone()
        conn.execute("SELECT max(last) FROM segments").fetchone()
        return conn
    except PermissionError as exc:
        if conn is not None:
            conn.close()
        raise SpoolError(f"the spool database {path} cannot be opened: {exc.strerror}") from None
    except (sqlite3.DatabaseError, ValueError) as exc:
        if conn is not None:
            conn.close()
        raise SpoolError(
            f"the spool database {path} cannot be read ({exc}); it was left untouched. "
            "Start with --reset-spool to move it aside (it is kept, never deleted) and begin with an empty spool") from None


class SpoolLock:
    """An exclusive ``flock`` on ``spool.lock``: one agent per spool, and the CLI knows
    whether an agent is running (then it asks the agent instead of writing itself).

    The kernel releases the lock when the process dies, even by SIGKILL.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / "spool.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


def event_id_of(data: bytes) -> str:
    """The ``id`` of a native-JSON event without parsing it (it is always the first key)."""
    i = data.find(b'"id":"')
    if i < 0:
        return ""
    j = data.find(b'"', i + 6)
    return data[i + 6:j].decode("utf-8", "replace")


def select_dead(ids: Sequence[int] | None, sink: str | None) -> tuple[str, list[Any]]:
    """WHERE clause choosing dead letters by ids and/or sink (neither: all)."""
    where: list[str] = []
    params: list[Any] = []
    if ids is not None:
        where.append(f"id IN ({','.join('?' * len(ids))})" if ids else "0")
        params.extend(ids)
    if sink is not None:
        where.append("sink = ?")
        params.append(sink)
    return (" WHERE " + " AND ".join(where)) if where else "", params


def _insert_segment(conn: sqlite3.Connection, base: int, mask: int, datas: Sequence[bytes]) -> int:
    data = b"".join(datas)
    conn.execute("INSERT INTO segments (base, last, mask, size, ends, data) VALUES (?, ?, ?, ?, ?, ?)",
                 (base, base + len(datas) - 1, mask, len(data), pack_ends(datas), data))
    return len(data)


def insert_runs(conn: sqlite3.Connection, seq: int, pending: Sequence[Run]) -> tuple[int, int]:
    """Store each run as one segment, numbered from ``seq``.

    :returns: ``(next free seq, bytes stored)``.
    """
    size = 0
    for run in pending:
        if run.datas:
            size += _insert_segment(conn, seq, run.mask, run.datas)
            seq += len(run.datas)
    return seq, size


def stored_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of every stored segment (what the quota counts)."""
    return int(conn.execute("SELECT coalesce(sum(size), 0) FROM segments").fetchone()[0])


def queued_events(conn: sqlite3.Connection, after: int, bit: int) -> Iterator[tuple[int, bytes]]:
    """``(seq, data)`` of every stored event for sink ``bit`` after ``after``, in order
    (offline and view use: it reads segment by segment)."""
    bases = conn.execute("SELECT base FROM segments WHERE last > ? AND (mask >> ?) & 1 ORDER BY last",
                         (after, bit)).fetchall()
    for (base,) in bases:
        row = conn.execute("SELECT ends, data FROM segments WHERE base=?", (base,)).fetchone()
        if row is not None:
            yield from events_after(base, unpack_ends(row[0]), bytes(row[1]), after)


def backlog(conn: sqlite3.Connection, after: int, bit: int) -> tuple[int, int, bytes | None]:
    """``(events, bytes, the oldest event's data or None)`` queued for sink ``bit`` after ``after``,
    without reading the events' bodies (only the first one's)."""
    count = size = 0
    first: tuple[int, int] | None = None
    for base, last, ends_blob in conn.execute(
            "SELECT base, last, ends FROM segments WHERE last > ? AND (mask >> ?) & 1 ORDER BY last", (after, bit)):
        ends = unpack_ends(ends_blob)
        start = max(0, after + 1 - base)
        count += last - max(base, after + 1) + 1
        size += ends[-1] - (ends[start - 1] if start else 0)
        if first is None:
            first = (base, start)
    if first is None:
        return 0, 0, None
    base, start = first
    row = conn.execute("SELECT ends, data FROM segments WHERE base=?", (base,)).fetchone()
    ends = unpack_ends(row[0])
    return count, size, bytes(row[1][ends[start - 1] if start else 0:ends[start]])


def dead_letter_rest(conn: sqlite3.Connection, sink: str, bit: int, cursor: int, reason: str, now: float) -> int:
    """Move every event still queued for ``sink`` to dead letters; returns how many."""
    rows = [(sink, event_id_of(data), data, reason, now) for _, data in queued_events(conn, cursor, bit)]
    conn.executemany("INSERT INTO dead_letters (sink, input, event_id, data, reason, attempts, created) "
                     "VALUES (?, NULL, ?, ?, ?, 0, ?)", rows)
    return len(rows)


def clear_bit(conn: sqlite3.Connection, bit: int) -> None:
    """Take sink ``bit`` off every segment (a removed sink, or a new sink given a freed bit)."""
    conn.execute("UPDATE segments SET mask = mask & ? WHERE (mask >> ?) & 1", (~(1 << bit), bit))
    conn.execute("DELETE FROM segments WHERE mask = 0")


def next_seq(conn: sqlite3.Connection) -> int:
    """The next free event sequence number (above every row and every cursor)."""
    max_seq = conn.execute("SELECT coalesce(max(last), 0) FROM segments").fetchone()[0]
    max_cursor = conn.execute("SELECT coalesce(max(cursor), 0) FROM sinks").fetchone()[0]
    return int(max(max_seq, max_cursor)) + 1


def requeue(conn: sqlite3.Connection, ids: Sequence[int] | None, sink: str | None, bits: Mapping[str, int],
            seq: int) -> tuple[int, int, int]:
    """Move dead letters back onto their sink's queue (at its end), inside the caller's transaction.

    Decode errors (no sink) and dead letters of sinks no longer configured stay put.

    :returns: ``(events requeued, their bytes, next free seq)``.
    """
    clause, params = select_dead(ids, sink)
    rows = conn.execute(f"SELECT id, sink, data FROM dead_letters{clause} ORDER BY id", params).fetchall()
    out: list[tuple[int, bytes]] = []
    done = []
    for rid, target, data in rows:
        if target is None or target not in bits:
            continue
        out.append((1 << bits[target], bytes(data)))
        done.append((rid,))
    seq, size = insert_runs(conn, seq, runs(out))
    conn.executemany("DELETE FROM dead_letters WHERE id=?", done)
    return len(out), size, seq


def purge(conn: sqlite3.Connection, ids: Sequence[int] | None, sink: str | None) -> int:
    clause, params = select_dead(ids, sink)
    return int(conn.execute(f"DELETE FROM dead_letters{clause}", params).rowcount)


def gc_range(conn: sqlite3.Connection, lo: int, hi: int, cursors: Mapping[str, int], bits: Mapping[str, int]) -> int:
    """Delete the segments ending in ``(lo, hi]`` that no sink still owes; return their bytes.

    A segment may go once every sink whose bit it carries has a cursor at or past its
    last event (a cursor inside it keeps it whole). The
    range is cut at every cursor inside it; in each piece the sinks still owing rows
    are those whose cursor lies at or below the piece, so one indexed range statement
    per piece suffices. Called for the range a sink's cursor just moved over, so each
    row is examined once per sink it was sent to, and a sink that is down for days
    holds back only its own rows, never everyone else's.
    """
    if hi <= lo:
        return 0
    bounds = [lo, *sorted({c for c in cursors.values() if lo < c < hi}), hi]
    freed = 0
    for a, b in zip(bounds, bounds[1:]):
        owing = 0
        for name, c in cursors.items():
            if c <= a:
                owing |= 1 << bits[name]
        params: tuple[int, ...]
        if owing:
            where, params = "last > ? AND last <= ? AND (mask & ?) = 0", (a, b, owing)
        else:
            where, params = "last > ? AND last <= ?", (a, b)
        freed += int(conn.execute(f"SELECT coalesce(sum(size), 0) FROM segments WHERE {where}", params).fetchone()[0])
        conn.execute(f"DELETE FROM segments WHERE {where}", params)
    return freed
