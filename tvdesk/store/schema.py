"""The run store's file: opening it safely, its schema, and the migrations between versions.

The store is one SQLite file that several optimiser processes (and the GUI) open at once. WAL
lets readers and one writer proceed together; `busy_timeout` makes a writer wait for another
instead of failing; every write is one short `BEGIN IMMEDIATE` transaction (see RunStore), so
no process holds the lock while a backtest runs. A process killed mid-write loses at most the
transaction it was in: SQLite's journal makes the file consistent when next opened.

`PRAGMA user_version` is the schema version. MIGRATIONS[i] takes a file from version i to
i + 1; they only ever get appended, so any older file can be brought up to date in one
transaction, and a file written by a newer tvdesk is refused instead of being misread.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tvdesk.errors import InputError
from tvdesk.store.failures import StoreError, failure_kind, store_failure

Migration = tuple[str, ...] | Callable[[sqlite3.Connection], None]

# 'tvdk': marks the file as a tvdesk run store, so another program's SQLite file is refused.
APPLICATION_ID = 0x7476646B
SQLITE_HEADER = b"SQLite format 3\x00"

T = TypeVar("T")

_V1: tuple[str, ...] = (
    """CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'stopped', 'finished', 'failed')),
        engine TEXT NOT NULL,
        strategy_title TEXT NOT NULL,
        settings_json TEXT NOT NULL
    )""",
    "CREATE INDEX runs_by_created ON runs (created_at)",
    """CREATE TABLE sources (
        hash TEXT PRIMARY KEY,
        normalized_hash TEXT NOT NULL,
        pine TEXT NOT NULL,
        parent_hash TEXT REFERENCES sources (hash),
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX sources_by_normalized ON sources (normalized_hash)",
    """CREATE TABLE trials (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        worker INTEGER NOT NULL,
        condition TEXT,
        iteration INTEGER NOT NULL,
        proposer TEXT NOT NULL,
        source_hash TEXT NOT NULL REFERENCES sources (hash),
        inputs_json TEXT NOT NULL,
        params_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'error', 'pruned')),
        metrics_json TEXT,
        tag TEXT,
        reasons_json TEXT,
        error TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        seconds REAL,
        segment TEXT NOT NULL DEFAULT 'in_sample'
            CHECK (segment IN ('in_sample', 'holdout', 'confirm')),
        result_json TEXT
    )""",
    # Dedupe (find_done_trial) and counts/filters by status and by condition.
    "CREATE INDEX trials_by_params ON trials (run_id, params_key)",
    "CREATE INDEX trials_by_status ON trials (run_id, status)",
    "CREATE INDEX trials_by_condition ON trials (run_id, condition)",
    """CREATE TABLE daily_returns (
        trial_id INTEGER PRIMARY KEY REFERENCES trials (id) ON DELETE CASCADE,
        n INTEGER NOT NULL,
        days BLOB NOT NULL,
        returns BLOB NOT NULL
    )""",
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload_json TEXT NOT NULL
    )""",
    "CREATE INDEX events_by_run ON events (run_id, id)",
)

_V2: tuple[str, ...] = (
    """CREATE TABLE llm_exchanges (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        trial_id INTEGER REFERENCES trials (id) ON DELETE SET NULL,
        worker INTEGER,
        model TEXT NOT NULL,
        prompt TEXT NOT NULL,
        reply TEXT,
        latency REAL,
        outcome TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX llm_exchanges_by_model ON llm_exchanges (run_id, model)",
)

# Why a rewrite was not run: the compile error, or the safety check's refusal.
_V3: tuple[str, ...] = ("ALTER TABLE llm_exchanges ADD COLUMN error TEXT",)

# Which process is running a run (see store.lease): one row per run being worked on.
_V4: tuple[str, ...] = (
    """CREATE TABLE run_leases (
        run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        token TEXT NOT NULL,
        host TEXT NOT NULL,
        machine TEXT NOT NULL,
        pid INTEGER NOT NULL,
        process_started TEXT NOT NULL,
        since TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
    )""",
)

# A watchlist trial's result on each of its charts (the trial row holds the aggregate).
_V5: tuple[str, ...] = (
    """CREATE TABLE chart_results (
        trial_id INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        chart TEXT NOT NULL,
        chart_json TEXT NOT NULL,
        metrics_json TEXT NOT NULL,
        result_json TEXT,
        equity_json TEXT,
        PRIMARY KEY (trial_id, position)
    )""",
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3, _V4, _V5)
"""MIGRATIONS[i] takes a store from version i to i + 1. Append only; never edit a shipped one.

A migration that rebuilds a table must run with foreign keys off; write it as a function."""

SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path, *, busy_timeout: float) -> sqlite3.Connection:
    """Open (creating if needed) the store at `path`, migrated to SCHEMA_VERSION.

    Raises InputError naming the file for anything a user can fix: not an SQLite file,
    another program's database, a newer tvdesk's store, a folder; StoreError (exit 1) when the
    place fails: unwritable, damaged, a full disk.
    """
    where = str(path)
    _check_header(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder of the run store ({exc.strerror})",
                         path=where, kind="cannot_open") from None
    try:
        conn = sqlite3.connect(where, timeout=busy_timeout, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise _open_failure(exc, path, busy_timeout) from None
    try:
        _configure(conn, where, busy_timeout)
        _migrate(conn, where)
    except sqlite3.Error as exc:
        conn.close()
        raise _open_failure(exc, path, busy_timeout) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _open_failure(exc: sqlite3.Error, path: Path, busy_timeout: float) -> StoreError:
    """SQLite says only "unable to open database file" when the file cannot be written (it
    needs its -wal and -shm files beside it): look, so the message says which it is."""
    if failure_kind(exc) == "cannot_open" and path.exists() and not _writable(path):
        return store_failure(sqlite3.OperationalError("attempt to write a readonly database"),
                             str(path), busy_timeout=busy_timeout)
    return store_failure(exc, str(path), busy_timeout=busy_timeout)


def _writable(path: Path) -> bool:
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return False
    except (OSError, AttributeError):  # no statvfs (Windows): the access check decides
        pass
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def connect_read_only(path: Path, *, busy_timeout: float) -> sqlite3.Connection:
    """Open an existing store for reading only: for listing and reports where the file or
    its folder cannot be written (a read-only mount, an archive, another user's file).

    A WAL store normally needs its `-shm` file writable even to read; where that cannot be,
    the file is opened as immutable (nobody can be writing to it there). The schema must be
    the current one: an older store needs one writable opening to be upgraded.
    """
    where = str(path)
    _check_header(path)
    if not path.is_file():
        raise InputError("no run store here", source=where)
    last: sqlite3.Error | None = None
    for mode in ("mode=ro", "immutable=1"):
        uri = f"{path.resolve().as_uri()}?{mode}"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            last = exc
            continue
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            _refuse_foreign(conn, where)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            conn.close()
            if failure_kind(exc) in ("cannot_open", "read_only"):
                last = exc
                continue
            raise store_failure(exc, where, busy_timeout=busy_timeout) from None
        except BaseException:
            conn.close()
            raise
        if version != SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"the run store is from an older tvdesk (schema version {version}, this one "
                f"reads {SCHEMA_VERSION}) and cannot be upgraded here because it cannot be "
                "written; open it once where it can be written", path=where, kind="read_only")
        return conn
    assert last is not None
    raise store_failure(last, where, busy_timeout=busy_timeout)


def _check_header(path: Path) -> None:
    where = str(path)
    if path.is_dir():
        raise InputError("is a folder; the run store is a file", source=where)
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(f"cannot read the run store ({exc})", source=where) from exc
    if head and head != SQLITE_HEADER:
        raise InputError("is not a run store: not an SQLite database file", source=where)


def _configure(conn: sqlite3.Connection, where: str, busy_timeout: float) -> None:
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    # Look before changing anything: another program's file must be left as it was found.
    _refuse_foreign(conn, where)
    mode = _with_retry(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0],
                       busy_timeout)
    if str(mode).lower() != "wal":
        raise InputError(
            f"the run store needs SQLite's WAL mode, which this place does not allow "
            f"(journal mode stays {mode!r}); keep the store on a local disk", source=where)
    # In WAL mode NORMAL loses no committed transaction when a process dies, only possibly
    # the last ones on power loss, and never corrupts the file.
    conn.execute("PRAGMA synchronous = NORMAL")


def _refuse_foreign(conn: sqlite3.Connection, where: str) -> None:
    # One statement, so one snapshot: read separately, another process's migration could
    # commit in between and its tables would look like a foreign database.
    version, app_id, objects = conn.execute(
        "SELECT (SELECT user_version FROM pragma_user_version),"
        " (SELECT application_id FROM pragma_application_id),"
        " (SELECT count(*) FROM sqlite_master)").fetchone()
    if app_id not in (0, APPLICATION_ID):
        raise InputError(f"is not a run store: an SQLite database of another program "
                         f"(application id {app_id:#x})", source=where)
    if version > SCHEMA_VERSION:
        raise InputError(
            f"run store schema version {version} is newer than this tvdesk understands "
            f"(version {SCHEMA_VERSION}); update tvdesk or choose another store file",
            source=where)
    if version == 0 and objects:
        raise InputError("is not a run store: an SQLite database with other tables",
                         source=where)


def _migrate(conn: sqlite3.Connection, where: str) -> None:
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again under the write lock: another process may have migrated meanwhile.
        _refuse_foreign(conn, where)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in MIGRATIONS[version:]:
            if callable(step):
                step(conn)
            else:
                for statement in step:
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _with_retry(action: Callable[[], T], busy_timeout: float) -> T:
    """Run `action`, retrying while the file is locked.

    Switching to WAL needs an exclusive lock and SQLite does not always wait for it through
    the busy handler, so two processes creating the store at once would otherwise race.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01 + (os.getpid() % 7) / 1000)
