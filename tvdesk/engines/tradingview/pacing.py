"""Pacing: how fast tvdesk may use one TradingView account.

Traders who ran 2–6 tabs for hours were banned for minutes to hours, and one account was
closed. The pacer spaces runs by a random pause and caps runs per rolling hour, shared by
every page of the account and, through a `PacingLedger`, by every tvdesk process using it (a
CLI optimisation, the GUI and its "re-run on TradingView" together stay under the cap);
`risk_warnings` says when settings go past the safe defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tvdesk.config import TradingViewSettings

SAFE = TradingViewSettings()
HOUR = 3600.0


def pacing_ledger_path() -> Path:
    """The ledger every tvdesk process of this user shares (in tvdesk's data folder)."""
    from tvdesk import paths

    return paths.data_dir() / "tradingview-pacing.sqlite"


def risk_warnings(settings: TradingViewSettings, pages: int) -> list[str]:
    """Plain warnings for settings more aggressive than the defaults."""
    warnings: list[str] = []
    if pages > SAFE.pages:
        warnings.append(f"{pages} TradingView pages at once: accounts running several tabs "
                        "for hours have been banned (15 min to 2 h, one closed); use 1 page "
                        "unless you accept that risk")
    if settings.pause_seconds[0] < SAFE.pause_seconds[0]:
        warnings.append(f"a pause of {settings.pause_seconds[0]:g} s between TradingView runs "
                        f"is shorter than the safe {SAFE.pause_seconds[0]:g} s; fast, regular "
                        "runs look like a bot and risk a ban")
    if settings.runs_per_hour > SAFE.runs_per_hour:
        warnings.append(f"{settings.runs_per_hour} TradingView runs per hour is above the safe "
                        f"{SAFE.runs_per_hour}; it risks a ban")
    return warnings


def start_wait(starts: Sequence[float], next_start: float, now: float,
               runs_per_hour: int) -> float:
    """Seconds until a run may start: the pause after the last run, and the hourly cap on
    `starts` (the run starts of the last hour, oldest first)."""
    wait = max(0.0, next_start - now)
    if len(starts) >= runs_per_hour:
        wait = max(wait, starts[len(starts) - runs_per_hour] + HOUR - now)
    return wait


class PacingLedger:
    """Run starts and the earliest next start of one account, in a SQLite file that every
    tvdesk process of this user shares.

    SQLite's write lock (`BEGIN IMMEDIATE`) makes each reservation atomic across processes on
    every platform, without a lock-file library. Times are wall-clock seconds (processes do
    not share a monotonic clock). The account is stored as a hash of its name.
    """

    def __init__(self, path: Path, account: str) -> None:
        self.path = path
        self.account = hashlib.sha256(account.strip().casefold().encode()).hexdigest()[:16]
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS starts (account TEXT NOT NULL, "
                       "at REAL NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS next_start (account TEXT PRIMARY KEY, "
                       "at REAL NOT NULL)")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def reserve(self, now: float, runs_per_hour: int) -> tuple[float, int]:
        """Take a start now if the pause and the hourly cap allow it: (0, starts in the last
        hour). Otherwise nothing is taken: (seconds to wait, starts in the last hour)."""
        with self._transaction() as db:
            db.execute("DELETE FROM starts WHERE account = ? AND at <= ?",
                       (self.account, now - HOUR))
            starts = [at for (at,) in db.execute(
                "SELECT at FROM starts WHERE account = ? ORDER BY at", (self.account,))]
            row = db.execute("SELECT at FROM next_start WHERE account = ?",
                             (self.account,)).fetchone()
            wait = start_wait(starts, row[0] if row else 0.0, now, runs_per_hour)
            if wait > 0:
                return wait, len(starts)
            db.execute("INSERT INTO starts (account, at) VALUES (?, ?)", (self.account, now))
            return 0.0, len(starts) + 1

    def pause_until(self, at: float) -> None:
        """No start of this account before `at` (the end of a run plus its pause)."""
        with self._transaction() as db:
            db.execute("INSERT INTO next_start (account, at) VALUES (?, ?) ON CONFLICT(account)"
                       " DO UPDATE SET at = max(at, excluded.at)", (self.account, at))


class MemoryLedger:
    """The same bookkeeping as `PacingLedger`, for one process only (tests, and a caller with
    no data folder)."""

    def __init__(self) -> None:
        self._starts: deque[float] = deque()
        self._next_start = 0.0

    def reserve(self, now: float, runs_per_hour: int) -> tuple[float, int]:
        while self._starts and now - self._starts[0] >= HOUR:
            self._starts.popleft()
        wait = start_wait(self._starts, self._next_start, now, runs_per_hour)
        if wait > 0:
            return wait, len(self._starts)
        self._starts.append(now)
        return 0.0, len(self._starts)

    def pause_until(self, at: float) -> None:
        self._next_start = max(self._next_start, at)


class Pacer:
    """Await `slot()` before each run and call `finished()` after it.

    The random pause counts from the end of the previous run (what a person clicking would
    do), the cap counts run starts in the last rolling hour; both are kept in the ledger, a
    `PacingLedger` shared by every process of the account or a `MemoryLedger`.
    """

    def __init__(self, pause_seconds: tuple[float, float], runs_per_hour: int, *,
                 clock: Callable[[], float] | None = None,
                 rng: random.Random | None = None,
                 notify: Callable[[str], None] | None = None,
                 ledger: PacingLedger | MemoryLedger | None = None) -> None:
        self.pause_seconds = pause_seconds
        self.runs_per_hour = runs_per_hour
        self.ledger = ledger if ledger is not None else MemoryLedger()
        # Processes share no monotonic clock, so a shared ledger counts in wall-clock time.
        self.clock = clock or (time.time if isinstance(self.ledger, PacingLedger)
                               else time.monotonic)
        self.rng = rng or random.Random()
        self.notify = notify
        self._lock = asyncio.Lock()

    async def slot(self) -> None:
        async with self._lock:  # one page at a time passes the gate, in order
            told = False
            while True:
                wait, recent = await asyncio.to_thread(self.ledger.reserve, self.clock(),
                                                       self.runs_per_hour)
                if wait <= 0:
                    return
                if wait > 60 and self.notify is not None and not told:
                    told = True
                    self.notify(f"pacing: {recent} TradingView runs of this account in the last"
                                f" hour (cap {self.runs_per_hour}); waiting {wait / 60:.0f} min")
                await asyncio.sleep(min(wait, 5.0))

    def finished(self) -> None:
        low, high = self.pause_seconds
        self.ledger.pause_until(self.clock() + self.rng.uniform(low, high))
