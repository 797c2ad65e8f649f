"""What a failing run store means to its user, instead of an SQLite traceback.

SQLite reports a full disk, a damaged file, a read-only place or a vanished folder as
`sqlite3.OperationalError`/`DatabaseError` with a terse text. Each becomes a StoreError that
names the file, says what happened in plain words and what to do. The store's transactions are
atomic, so in every case what was committed before the failure is still there: the messages
can say so.
"""

from __future__ import annotations

import sqlite3
from typing import Literal

from tvdesk.errors import TvdeskError

FailureKind = Literal["full", "damaged", "read_only", "cannot_open", "disk", "busy", "vanished",
                      "other"]

_KINDS: tuple[tuple[str, FailureKind], ...] = (
    ("SQLITE_FULL", "full"),
    ("SQLITE_CORRUPT", "damaged"),
    ("SQLITE_NOTADB", "damaged"),
    ("SQLITE_READONLY", "read_only"),
    ("SQLITE_PERM", "read_only"),
    ("SQLITE_CANTOPEN", "cannot_open"),
    ("SQLITE_IOERR", "disk"),
    ("SQLITE_BUSY", "busy"),
    ("SQLITE_LOCKED", "busy"),
)


_MAX_DETAIL = 160  # SQLite may quote a whole damaged row


class StoreError(TvdeskError):
    """The run store's file failed (disk, permissions, damage). Exit 1: the user's request was
    fine, the place it is kept is not. `kind` lets callers react (open read-only instead)."""

    def __init__(self, message: str, *, path: str, kind: FailureKind) -> None:
        self.path = path
        self.kind = kind
        super().__init__(f"{path}: {message}")


def failure_kind(exc: sqlite3.Error | ValueError) -> FailureKind:
    if isinstance(exc, ValueError):  # a stored JSON value that no longer parses
        return "damaged"
    name = getattr(exc, "sqlite_errorname", "") or ""
    for prefix, kind in _KINDS:
        if name.startswith(prefix):
            return kind
    text = str(exc).lower()  # errors raised without a code (older Pythons, some paths)
    if "disk is full" in text:
        return "full"
    if "malformed" in text or "not a database" in text or "could not decode" in text:
        return "damaged"
    if "readonly" in text or "read-only" in text:
        return "read_only"
    return "other"


def store_failure(exc: sqlite3.Error | ValueError, path: str, *,
                  busy_timeout: float = 15.0) -> StoreError:
    """The StoreError to raise for `exc` from the store at `path`."""
    kind = failure_kind(exc)
    text = str(exc)
    detail = f"SQLite: {text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + '…'}"
    kept = "everything saved before is kept"
    messages: dict[FailureKind, str] = {
        "full": (f"the disk is full ({detail}); {kept}. Free some space, then continue with "
                 "`tvdesk optimize --resume latest`"),
        "damaged": (f"the run store is damaged ({detail}). Keep a copy of the file; "
                    "`sqlite3 FILE .recover | sqlite3 recovered.sqlite` saves what can still "
                    "be read, or use a new store with --store"),
        "read_only": (f"the run store cannot be written here ({detail}). Listing runs and "
                      "writing reports work on a read-only store, a run needs a writable one: "
                      "check the permissions of the file and its folder, or use --store"),
        "cannot_open": (f"cannot open the run store ({detail}); check that its folder exists "
                        "and can be written, and that the file was not moved or deleted"),
        "disk": (f"the disk failed while using the run store ({detail}); {kept}. Check the "
                 "disk (full, removed, a network share that dropped?) and try again"),
        "busy": (f"another process kept the run store locked for more than "
                 f"{busy_timeout:g} s ({detail}); try again"),
        "vanished": f"the run store file is gone ({detail})",
        "other": f"the run store failed ({detail})",
    }
    return StoreError(messages[kind], path=path, kind=kind)
