"""Which List-of-trades column holds what: decided by structure, confirmed by the header names.

TradingView has changed the trade list's headers every few months and translates them into
about twenty UI languages, but the shape of the table has changed far less: a trade number, the
type, the date and the signal, then price, size and the money/percent pairs, always in one of a
few orders (`LAYOUTS`). So a column is recognised by three pieces of evidence:

- its position in a known layout of the same width,
- what its cells hold (whole numbers that repeat at most twice, a few distinct words, dates,
  numbers) and whether its header ends in a currency code or "%",
- its header, when a locale table knows it.

The layout that agrees best with the evidence decides every column whose name is unknown, and
each such column is named in a warning ("read as price by its position"). A known name decides
its own column unless the cells contradict it; where name and layout disagree, a warning says
which reading was taken. A table of a width no layout has is read by names
and, for the four columns a trade cannot do without, by content alone; what cannot be told
apart is an `InputError` naming the sheet and the columns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tvdesk.exports import aliases
from tvdesk.exports.dates import parse_datetime, slashed_day_first
from tvdesk.exports.numbers import decimal_mark, parse_number
from tvdesk.exports.xlsx_parts import column_letters

_P = "_percent"
LAYOUTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("2022-2024", ("trade_number", "type", "signal", "datetime", "price", "qty", "profit",
                   "profit" + _P, "cum_profit", "cum_profit" + _P, "run_up", "run_up" + _P,
                   "drawdown", "drawdown" + _P)),
    ("2025-2026", ("trade_number", "type", "datetime", "signal", "price", "qty",
                   "position_value", "profit", "profit" + _P, "run_up", "run_up" + _P,
                   "drawdown", "drawdown" + _P, "cum_profit", "cum_profit" + _P)),
    ("mid 2026", ("trade_number", "type", "datetime", "signal", "price", "qty",
                  "position_value", "profit", "profit" + _P, "run_up", "run_up" + _P,
                  "drawdown", "drawdown" + _P, "cum_profit", "cum_profit" + _P,
                  "duration_bars")),
    ("mid 2026 with commission", (
        "trade_number", "type", "datetime", "signal", "price", "qty", "position_value",
        "profit", "profit" + _P, "run_up", "run_up" + _P, "drawdown", "drawdown" + _P,
        "cum_profit", "cum_profit" + _P, "duration_bars", "commission")),
)
"""The trade list's column orders, oldest first (tradingview.md lists the headers)."""

_SAMPLE_ROWS = 400
_TEXT_FIELDS = frozenset({"type", "signal"})
_MONEY_FIELDS = frozenset({"price", "position_value", "profit", "cum_profit", "run_up",
                           "drawdown", "commission"})


@dataclass(slots=True)
class ColumnFacts:
    """What one column's header and first cells say about it."""

    position: int
    header: str
    label: str | None  # field its name means, when a locale table knows the name
    currency: str | None
    percent: bool
    kind: str  # "int", "number", "date", "text" or "empty"
    distinct: int = 0  # distinct texts (type and signal columns)
    max_repeat: int = 0  # how often the commonest value occurs (trade numbers: at most 2)
    decimal: str | None = None  # decimal mark its number texts prove


@dataclass(slots=True)
class Layout:
    """The outcome: field -> column position, and what was assumed on the way."""

    index: dict[str, int]
    facts: list[ColumnFacts]
    name: str | None
    assumed: list[tuple[ColumnFacts, str]] = field(default_factory=list)
    overruled: list[tuple[ColumnFacts, str]] = field(default_factory=list)


def profile(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> list[ColumnFacts]:
    """Facts about every column of a header row, from the header and the first data rows."""
    width = max([len(header), *(len(r) for r in rows[:_SAMPLE_ROWS])], default=0)
    facts: list[ColumnFacts] = []
    for position in range(width):
        raw = header[position] if position < len(header) else None
        text = "" if raw is None else str(raw).strip()
        found = aliases.trade_column(text) if text else None
        base, currency = aliases.split_currency(text)
        cells = [r[position] for r in rows[:_SAMPLE_ROWS]
                 if position < len(r) and r[position] not in (None, "")]
        kind, distinct, repeat, decimal = _content(cells)
        facts.append(ColumnFacts(
            position=position, header=text, label=found[0] if found else None,
            currency=found[1] if found else currency, percent=base.endswith("%"), kind=kind,
            distinct=distinct, max_repeat=repeat, decimal=decimal))
    marks = {f.decimal for f in facts if f.decimal}
    if len(marks) == 1:  # one file, one locale: a mark one column proves holds for all
        for fact in facts:
            fact.decimal = fact.decimal or next(iter(marks))
    return facts


def _content(cells: list[Any]) -> tuple[str, int, int, str | None]:
    if not cells:
        return "empty", 0, 0, None
    kinds: Counter[str] = Counter()
    texts = [c for c in cells if isinstance(c, str)]
    decimal = decimal_mark(texts)
    for cell in cells:
        kinds[_kind(cell, decimal)] += 1
    kind = kinds.most_common(1)[0][0]
    if kind == "int" and kinds["number"]:
        kind = "number"
    values = Counter(str(c).strip() for c in cells)
    return kind, len(values), values.most_common(1)[0][1], decimal


def _kind(cell: Any, decimal: str | None) -> str:
    if isinstance(cell, bool):
        return "text"
    if isinstance(cell, (datetime, date)):
        return "date"
    if isinstance(cell, (int, float)):
        return "int" if float(cell).is_integer() else "number"
    text = str(cell).strip()
    number = parse_number(text, decimal)
    if number is not None:
        return "int" if number.is_integer() and not any(c in text for c in ".,") else "number"
    if _iso(text) or parse_datetime(text, day_first=True) is not None:
        return "date"  # (day-first or not is settled for the whole column later)
    return "text"


def _iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _fits(fact: ColumnFacts, name: str) -> bool:
    """Whether a column's header suffix and cells can hold `name` (an empty column fits any
    field; a header ending in a currency code only a money field, in "%" a percent)."""
    if (fact.percent and not name.endswith(_P)) or (fact.currency and name not in _MONEY_FIELDS):
        return False
    kind = fact.kind
    if kind == "empty":  # no cell says otherwise (an export with no trades has no rows)
        return True
    if name == "trade_number":
        return kind == "int" and fact.max_repeat <= 2
    if name == "type":
        return kind == "text" and fact.distinct <= 6
    if name == "signal":
        return kind in ("text", "int", "number", "date")  # a signal may be any id
    if name == "datetime":
        return kind in ("date", "number", "int")  # XLSX dates are Excel serials
    return kind in ("int", "number")


def _score(facts: list[ColumnFacts], names: tuple[str, ...]) -> int | None:
    """How well a layout explains the columns; None when some column cannot be what it says."""
    total = 0
    for fact, name in zip(facts, names, strict=True):
        if not _fits(fact, name):
            return None
        if fact.label is not None:
            total += 3 if fact.label == name else -3
        if fact.percent:
            total += 1 if name.endswith(_P) else -1
        elif fact.currency is not None:
            total += 1 if name in _MONEY_FIELDS else -1
    return total


def assign(facts: list[ColumnFacts]) -> Layout:
    """Field -> position for a header row: names first where the cells agree, then structure."""
    candidates = [(score, -age, name, names) for age, (name, names) in enumerate(LAYOUTS)
                  if len(names) == len(facts) and (score := _score(facts, names)) is not None]
    chosen = max(candidates)[2:] if candidates else None
    index: dict[str, int] = {}
    layout = Layout(index=index, facts=facts, name=chosen[0] if chosen else None)
    structural = dict(enumerate(chosen[1])) if chosen else {}
    for fact in facts:
        if fact.label is None or fact.label in index:
            continue
        if fact.position in structural and structural[fact.position] != fact.label:
            layout.overruled.append((fact, structural[fact.position]))
        if _fits(fact, fact.label):
            index[fact.label] = fact.position  # a name its cells agree with decides
    taken = set(index.values())
    for position, name in structural.items():
        if name not in index and position not in taken:
            index[name] = position
            taken.add(position)
            if facts[position].label != name:
                layout.assumed.append((facts[position], name))
    if not chosen:
        _by_content(facts, index, layout)
    return layout


def _by_content(facts: list[ColumnFacts], index: dict[str, int], layout: Layout) -> None:
    """The four columns a trade needs, found by what their cells hold (no layout fits)."""
    free = [f for f in facts if f.position not in index.values()]

    def pick(name: str, after: int = -1) -> None:
        if name in index:
            return
        for fact in free:
            if fact.position > after and fact.position not in index.values() \
                    and fact.kind != "empty" and _fits(fact, name):
                index[name] = fact.position
                layout.assumed.append((fact, name))
                return

    pick("trade_number")
    pick("type")
    if "datetime" not in index:
        dated = [f for f in free if f.kind == "date" and f.position not in index.values()]
        if dated:
            index["datetime"] = dated[0].position
            layout.assumed.append((dated[0], "datetime"))
    anchor = max(index.get("datetime", -1), index.get("type", -1))
    pick("price", after=anchor)


def describe(assumed: list[tuple[ColumnFacts, str]]) -> str:
    return ", ".join(f"{fact.header or '(no header)'!r} (column {column_letters(fact.position)})"
                     f" as {name}" for fact, name in assumed)


def day_first_of(rows: Sequence[Sequence[Any]], position: int) -> bool | None:
    texts = [r[position] for r in rows[:_SAMPLE_ROWS]
             if position < len(r) and isinstance(r[position], str)]
    return slashed_day_first(texts)
