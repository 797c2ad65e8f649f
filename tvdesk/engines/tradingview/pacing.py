"""Pacing: how fast tvdesk may use one TradingView account.

Traders who ran 2–6 tabs for hours were banned for minutes to hours, and one account was
closed. The pacer spaces runs by a random pause and caps runs per rolling hour, shared by
every page of the account; `risk_warnings` says when settings go past the safe defaults.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable

from tvdesk.config import TradingViewSettings

SAFE = TradingViewSettings()
HOUR = 3600.0


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


class Pacer:
    """Await `slot()` before each run and call `finished()` after it.

    The random pause counts from the end of the previous run (what a person clicking would
    do), the cap counts run starts in the last rolling hour.
    """

    def __init__(self, pause_seconds: tuple[float, float], runs_per_hour: int, *,
                 clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None,
                 notify: Callable[[str], None] | None = None) -> None:
        self.pause_seconds = pause_seconds
        self.runs_per_hour = runs_per_hour
        self.clock = clock
        self.rng = rng or random.Random()
        self.notify = notify
        self._starts: deque[float] = deque()
        self._next_allowed = 0.0
        self._lock = asyncio.Lock()

    def delay(self) -> float:
        """Seconds to wait before the next run may start (0 = now)."""
        now = self.clock()
        while self._starts and now - self._starts[0] >= HOUR:
            self._starts.popleft()
        wait = max(0.0, self._next_allowed - now)
        if len(self._starts) >= self.runs_per_hour:
            wait = max(wait, self._starts[0] + HOUR - now)
        return wait

    async def slot(self) -> None:
        async with self._lock:  # one page at a time passes the gate, in order
            while (wait := self.delay()) > 0:
                if wait > 60 and self.notify is not None:
                    self.notify(f"pacing: {len(self._starts)} TradingView runs in the last "
                                f"hour (cap {self.runs_per_hour}); waiting {wait / 60:.0f} min")
                await asyncio.sleep(min(wait, 5.0))
            now = self.clock()
            self._starts.append(now)
            self._next_allowed = now  # until this run finishes, others follow their own pause

    def finished(self) -> None:
        low, high = self.pause_seconds
        self._next_allowed = max(self._next_allowed, self.clock() + self.rng.uniform(low, high))
