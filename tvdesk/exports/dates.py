"""Dates as TradingView's UI languages write them in text cells.

XLSX exports store trade times as Excel serials and CSV exports as ISO text, whatever the
language; text in other forms comes from a user's re-saved spreadsheet and from the Properties
sheet's ranges ("Jan 02, 2024 — Dec 31, 2024", "2 янв. 2024 г. — 31 дек. 2024 г."). The forms
read here: ISO, `2024/01/02` (ja, zh, ko), `02.01.2024` (de, ru, pl, tr, ...), `2024年1月2日`,
`2024년 1월 2일`, a month name before or after the day in any language of
`tvdesk.exports.locales`, and slashed `02/01/2024`, which is a different day in English and in
French: it is read day-first or month-first only when a day above 12 (in the cell, or in the
column via `day_first`) proves which.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime

from tvdesk.exports import aliases


def _norm(text: str) -> str:
    """aliases.normalise, recomposed: Hangul syllables stay whole for the patterns below."""
    return unicodedata.normalize("NFC", aliases.normalise(text))


_MONTH_WORDS: dict[str, int] = {
    _norm(word).rstrip("."): month
    for month, words in aliases.MONTH_NAMES.items() for word in words
}
_MONTH_PREFIXES = sorted(((w, m) for w, m in _MONTH_WORDS.items() if len(w) >= 3),
                         key=lambda pair: -len(pair[0]))

_AT = r"(?:г\.,?\s*|um\s+|à\s+|a las\s+|alle\s+|às\s+)?"  # "2024 г., 14:30", "um 14:30"
_TIME = r"(?:[,\s]+" + _AT + r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?)?"
_WORD = r"([^\W\d_][^\s\d,.]*)\.?"  # a letter, then anything to a space (Thai vowel signs)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[t\s]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"), "ymd"),
    (re.compile(r"(\d{4})\s*[/年년.]\s*(\d{1,2})\s*[/月월.]\s*(\d{1,2})(?:\s*[日일])?"
                + _TIME), "ymd"),
    (re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})" + _TIME), "dmy"),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})" + _TIME), "slashed"),
    (re.compile(_WORD + r"\s+(\d{1,2}),?\s+(\d{4})" + _TIME), "mdy_named"),
    (re.compile(r"\b(\d{1,2})\.?\s+(?:de\s+)?" + _WORD + r"(?:\s+de)?\s+(\d{4})" + _TIME),
     "dmy_named"),
)


def month_number(word: str) -> int | None:
    """1-12 for a month name or abbreviation in any known language ("Jan", "января", "déc")."""
    norm = _norm(word).rstrip(".")
    found = _MONTH_WORDS.get(norm)
    if found is not None:
        return found
    for prefix, month in _MONTH_PREFIXES:  # inflected forms: "января" starts with "янв"
        if norm.startswith(prefix):
            return month
    return None


def find_datetimes(text: str, day_first: bool | None = None
                   ) -> list[tuple[int, datetime]]:
    """(position, naive datetime) of every date written in `text`, in any known form."""
    norm = _norm(text)
    found: dict[int, tuple[int, datetime]] = {}  # start -> (end, moment)
    for pattern, form in _PATTERNS:
        for match in pattern.finditer(norm):
            start, end = match.span()
            if any(start < other_end and other_start < end
                   for other_start, (other_end, _m) in found.items()):
                continue  # already read by an earlier, more specific form
            moment = _build(form, match.groups(), day_first)
            if moment is not None:
                found[start] = (end, moment)
    return [(start, moment) for start, (_end, moment) in sorted(found.items())]


def parse_datetime(text: str, day_first: bool | None = None) -> datetime | None:
    """The one date (and time) a cell writes, or None when it is not exactly one date."""
    found = find_datetimes(text, day_first)
    return found[0][1] if len(found) == 1 else None


def slashed_day_first(texts: Iterable[str]) -> bool | None:
    """Whether a column's `nn/nn/yyyy` dates put the day first, when some cell proves it."""
    for text in texts:
        match = re.search(r"\b(\d{1,2})/(\d{1,2})/\d{4}", str(text))
        if match:
            first, second = int(match.group(1)), int(match.group(2))
            if first > 12 >= second:
                return True
            if second > 12 >= first:
                return False
    return None


def _build(form: str, groups: tuple[str | None, ...], day_first: bool | None
           ) -> datetime | None:
    def num(i: int) -> int:
        return int(groups[i] or 0)

    if form == "ymd":
        y, m, d = num(0), num(1), num(2)
    elif form == "dmy":
        d, m, y = num(0), num(1), num(2)
    elif form == "slashed":
        a, b, y = num(0), num(1), num(2)
        first = True if a > 12 else False if b > 12 else day_first
        if first is None:
            return None
        d, m = (a, b) if first else (b, a)
    else:
        named = 0 if form == "mdy_named" else 1
        month = month_number(groups[named] or "")
        if month is None:
            return None
        d, m, y = num(1 - named), month, num(2)
    hour, minute, second = num(3), num(4), num(5)
    try:
        return datetime(y, m, d, hour, minute, second)
    except ValueError:
        return None
