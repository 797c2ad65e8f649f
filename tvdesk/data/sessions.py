"""A symbol's trading session, written as TradingView writes it: "0930-1600", "1700-1700:23456".

The session decides where TradingView's bars start: intraday higher-timeframe bars count from
the session open (a US stock's 60-minute bars open at 09:30, 10:30, ...), and a daily bar of an
overnight session (forex and futures open at 17:00 New York the evening before) starts at that
open and belongs to the next calendar day. Without `--session` a symbol trades round the clock
from midnight, which is right for crypto and what tvdesk assumed before.

Days use TradingView's numbers, 1 = Sunday ... 7 = Saturday, and name the trading day (for an
overnight session, the day it ends).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from tvdesk.errors import InputError

_SESSION_RE = re.compile(r"^(\d{2})(\d{2})-(\d{2})(\d{2})(?::([1-7]+))?$")
ROUND_THE_CLOCK = "0000-0000"


@dataclass(frozen=True, slots=True)
class Session:
    start: time
    end: time
    days: tuple[int, ...]  # Python weekdays (Monday = 0) of the trading days
    text: str

    @property
    def overnight(self) -> bool:
        """Opens on the calendar day before the trading day it belongs to."""
        return self.start >= self.end and self.start != time(0)

    @property
    def whole_day(self) -> bool:
        return self.start == self.end == time(0)

    @property
    def offset_ms(self) -> int:
        """Milliseconds from local midnight to the session open."""
        return (self.start.hour * 60 + self.start.minute) * 60_000


def parse_session(text: str | None) -> Session:
    """The session of a TradingView session string; round the clock when `text` is empty."""
    raw = (text or ROUND_THE_CLOCK).strip()
    match = _SESSION_RE.fullmatch(raw)
    hours = (int(match.group(1)), int(match.group(3))) if match else (99, 99)
    minutes = (int(match.group(2)), int(match.group(4))) if match else (99, 99)
    if not match or max(hours) > 23 or max(minutes) > 59:
        raise InputError(f"expected a session such as 0930-1600, 1700-1700 or "
                         f"0930-1600:23456 (days 1 = Sunday ... 7 = Saturday), got {raw!r}",
                         source="--session")
    days = tuple(sorted({(int(d) + 5) % 7 for d in (match.group(5) or "1234567")}))
    return Session(time(hours[0], minutes[0]), time(hours[1], minutes[1]), days, raw)


def pynecore_hours(session: Session) -> tuple[list, list, list]:
    """(opening_hours, session_starts, session_ends) as PyneCore's SymInfo holds them.

    PyneCore files an overnight interval under the calendar day it opens on (its end is
    earlier than its start); a whole day is 00:00-23:59:59, as PyneCore's own providers write.
    """
    from pynecore.core.syminfo import SymInfoInterval, SymInfoSession

    hours, starts, ends = [], [], []
    for day in session.days:
        if session.whole_day:
            hours.append(SymInfoInterval(day=day, start=time(0), end=time(23, 59, 59)))
            starts.append(SymInfoSession(day=day, time=time(0)))
            ends.append(SymInfoSession(day=day, time=time(23, 59, 59)))
        elif session.overnight:
            opens_on = (day - 1) % 7
            hours.append(SymInfoInterval(day=opens_on, start=session.start, end=session.end))
            starts.append(SymInfoSession(day=opens_on, time=session.start))
            ends.append(SymInfoSession(day=day, time=session.end))
        else:
            hours.append(SymInfoInterval(day=day, start=session.start, end=session.end))
            starts.append(SymInfoSession(day=day, time=session.start))
            ends.append(SymInfoSession(day=day, time=session.end))
    return hours, starts, ends
