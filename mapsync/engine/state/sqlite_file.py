"""The SQLite state file on disk: checking an existing one before anything is written to it, and creating a
new one atomically.

A state file that is a folder, empty, read-only, not SQLite, another program's SQLite database, from a newer
mapsync or damaged is refused with one line saying what is wrong (``StateFileError``), and nothing is
written to it or next to it: the checks read the file's 100-byte header first, then run SQLite's
``quick_check`` on a connection that has written nothing yet (closing it leaves the folder as it was).

A new store is built under a temporary name in the same folder and linked into place when complete, so no
process ever sees a half-made (or zero-byte) store; two processes creating the same store at once both end up
with the one that was linked first. The file is readable by its owner only: it holds rotated OAuth refresh
tokens.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import uuid
from collections.abc import Callable

from mapsync.engine.state.migrations import APPLICATION_ID, SCHEMA_VERSION
from mapsync.engine.state.store import SchemaVersionError, StateError, StateLockedError

HEADER = b"SQLite format 3\x00"
BUSY_SECONDS = 5.0  # how long a command waits for another process's write lock before saying so


class StateFileError(StateError):
    """The state file cannot be used as it is (a folder, empty, read-only, damaged, ...)."""


def locked_message(where: str, waited: float) -> str:
    return (f"{where} is locked by another process (waited {waited:.0f} s for its write lock); nothing was "
            "written. Try again when that process has finished")


def check_existing(path: str, *, write: bool = True) -> None:
    """Refuse, before opening it, a state file that cannot be a usable mapsync store; reads only. ``write``:
    it must also be writable (every command but ``explain``, which reads a copy)."""
    where = f"state store {path!r}"
    try:
        info = os.stat(path)
    except OSError as exc:
        raise StateFileError(f"cannot read {where}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise StateFileError(f"{where} is a folder, not a state store file; give --state the path of a file")
    if not stat.S_ISREG(info.st_mode):
        raise StateFileError(f"{where} is not a regular file")
    if info.st_size == 0:
        raise StateFileError(f"{where} is an empty file (0 bytes), not a mapsync state store; nothing was "
                             "written. Remove it to start a new store, or give --state the right file")
    if write and not _writable(path, info):
        raise StateFileError(f"{where} is read-only; mapsync writes its links, cursors and runs there. "
                             "Make it writable (and its folder), or copy it to inspect it")
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise StateFileError(f"cannot read {where}: {exc.strerror}") from None
    if len(header) < 100 or not header.startswith(HEADER):
        raise StateFileError(f"{where} is not a SQLite database, so not a mapsync state store; nothing was "
                             "written")
    check_identity(where, int.from_bytes(header[68:72], "big"), int.from_bytes(header[60:64], "big"))


def check_identity(where: str, application_id: int, version: int) -> None:
    """A mapsync store of a schema version this mapsync knows, by the header's fields."""
    if application_id != APPLICATION_ID:
        raise SchemaVersionError(f"{where} is not a mapsync state store (another program's SQLite database, "
                                 f"application_id {application_id:#x}); nothing was written")
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{where} has state schema version {version}, but this mapsync knows versions up to "
            f"{SCHEMA_VERSION}: it was written by a newer mapsync; upgrade mapsync to use it (nothing was written)")


def check_connection(conn: sqlite3.Connection, where: str) -> None:
    """On a fresh connection that has written nothing: the file's pages are sound and it is a mapsync store
    (read through SQLite, so a write-ahead log not yet checkpointed counts too)."""
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(1)").fetchall()]
        application_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.OperationalError as exc:
        if _is_busy(exc):
            raise StateLockedError(locked_message(where, BUSY_SECONDS)) from None
        raise StateFileError(f"{where} cannot be read ({exc}); nothing was written") from None
    except sqlite3.DatabaseError as exc:
        raise StateFileError(f"{where} is damaged ({exc}); nothing was written. Restore it from a backup") from None
    if problems != ["ok"]:
        first = problems[0].replace("\n", " ") if problems else "no answer"
        raise StateFileError(f"{where} is damaged (database disk image is malformed: {first}); nothing was "
                             "written. Restore it from a backup")
    check_identity(where, application_id, version)


def copy_into(path: str, target: sqlite3.Connection) -> None:
    """Copy the checked store at ``path`` into ``target`` (``explain``), leaving nothing next to it: a
    read-only file through a read-only connection, any other through a connection that writes nothing."""
    where = f"state store {path!r}"
    check_existing(path, write=False)
    writable = _writable(path, os.stat(path))
    uri = f"file:{os.path.abspath(path)}" + ("" if writable else "?mode=ro&immutable=1")  # no -wal, no -shm
    try:
        source = sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS)
    except sqlite3.Error as exc:
        raise StateFileError(f"cannot read {where}: {exc}") from None
    try:
        check_connection(source, where)
        source.backup(target)
    except sqlite3.OperationalError as exc:
        if _is_busy(exc):
            raise StateLockedError(locked_message(where, BUSY_SECONDS)) from None
        raise StateFileError(f"cannot read {where}: {exc}") from None
    finally:
        source.close()


def create_new(path: str, initialise: Callable[[sqlite3.Connection], None]) -> bool:
    """Create the store at ``path`` complete or not at all: built as a temporary file next to it by
    ``initialise`` (WAL mode, migrations), then linked into place. False if another process got there first
    (the file exists: check it and open it as usual)."""
    folder = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.new")
    try:
        fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise StateFileError(f"cannot create state store {path!r}: {exc.strerror}") from None
    os.close(fd)
    try:
        conn = sqlite3.connect(temp, isolation_level=None, timeout=BUSY_SECONDS)
        try:
            initialise(conn)
        finally:
            conn.close()
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: a plain rename (a race between creators is lost)
            if os.path.exists(path):
                return False
            os.replace(temp, path)
        return True
    except sqlite3.Error as exc:
        raise StateFileError(f"cannot create state store {path!r}: {exc}") from None
    finally:
        for leftover in (temp, temp + "-wal", temp + "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def _writable(path: str, info: os.stat_result) -> bool:
    """Writable by this process, and not marked read-only for everyone (which root's access() ignores);
    the folder must take SQLite's write-ahead log next to the file."""
    if not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return False
    folder = os.path.dirname(os.path.abspath(path))
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK)


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text
