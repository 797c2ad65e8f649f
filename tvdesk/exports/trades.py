"""From List-of-trades rows (XLSX sheet or CSV) to `Trade` values.

TradingView writes two rows per trade, exit first, with the trade's values repeated on both.
Rows are paired by trade number, never by position: with pyramiding several entries are open at
once and their rows interleave. P&L, MFE/MAE and cumulative P&L are taken from the exit row
only, so a value is never counted twice. An open trade's exit row carries the signal "Open" and
the unrealised P&L; it becomes `Trade(open=True)` with no exit time or price.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from tvdesk.errors import InputError
from tvdesk.exports import aliases, locales, trade_layout, type_words
from tvdesk.exports.cells import (
    CellError,
    from_serial,
    located,
    to_datetime,
    to_float,
    to_int,
    to_text,
)
from tvdesk.exports.xlsx_parts import column_letters
from tvdesk.model import Trade


@dataclass(frozen=True, slots=True)
class TradeColumns:
    """Where each canonical field sits in the rows, and the header each came from."""

    index: dict[str, int]
    headers: dict[str, str]
    currency: str | None  # of the P&L columns (a USDJPY export: prices in JPY, P&L in USD)
    price_currency: str | None = None
    decimals: dict[str, str | None] = dataclasses.field(default_factory=dict)
    day_first: bool | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Where:
    """What a located error needs to know about the table being read."""

    source: str
    sheet: str | None = None
    tz: tzinfo = UTC
    date1904: bool = False

    def error(self, message: CellError | str, line: int | None,
              column: str | None) -> InputError:
        return located(message, source=self.source, line=line, column=column, sheet=self.sheet)


def map_header(cells: Sequence[Any], where: Where, line: int,
               rows: Sequence[Sequence[Any]] = ()) -> TradeColumns:
    """Canonical fields of a List-of-trades header row, by structure and names (see
    `tvdesk.exports.trade_layout`); `rows` are the data rows below it."""
    facts = trade_layout.profile(cells, rows)
    layout = trade_layout.assign(facts)
    index = layout.index
    missing = [f for f in aliases.REQUIRED_TRADE_FIELDS if f not in index]
    if missing:
        unknown = [f for f in facts if f.header and f.label is None]
        names = ", ".join(" / ".join(aliases.TRADE_COLUMNS[f][:3]) for f in missing)
        raise where.error(
            f"cannot tell which column holds the {', '.join(missing)}: no known header names "
            f"it ({names}) and no known List-of-trades layout has {len(facts)} columns like "
            f"these" + (f"; headers not known: {', '.join(repr(f.header) for f in unknown)}"
                        if unknown else ""), line, None)
    headers = {name: facts[pos].header or column_letters(pos)
               for name, pos in index.items()}
    warnings: list[str] = []
    sheet = f"sheet {where.sheet!r}" if where.sheet else "the List of trades"
    if layout.assumed:
        warnings.append(f"{sheet}: columns read by their position and content, as TradingView's "
                        f"{layout.name or 'usual'} layout places them (their names are not in "
                        f"tvdesk's label tables): {trade_layout.describe(layout.assumed)}")
    for fact, structural in layout.overruled:
        taken = next((n for n, p in index.items() if p == fact.position), None)
        warnings.append(
            f"{sheet}: column {fact.header!r} (column {column_letters(fact.position)})"
            f" is named like {fact.label} but sits where the layout has {structural}; read as "
            f"{taken or 'nothing'}")
    unused = [f for f in facts if f.header and f.position not in index.values()]
    if unused:
        warnings.append(f"{sheet}: columns not read: "
                        + ", ".join(repr(f.header) for f in unused))
    money = [facts[index[f]].currency for f in _PNL_FIELDS if f in index]
    price_currency = facts[index["price"]].currency
    return TradeColumns(
        index=index, headers=headers,
        currency=next((c for c in money if c), None) or price_currency,
        price_currency=price_currency,
        decimals={name: facts[pos].decimal for name, pos in index.items()},
        day_first=trade_layout.day_first_of(rows, index["datetime"]),
        warnings=tuple(warnings))


_PNL_FIELDS = ("profit", "cum_profit", "run_up", "drawdown", "commission", "position_value")


@dataclass(slots=True)
class _Row:
    line: int
    role: str | None
    side: str | None  # None: a type word no table knows, worked out from the trades
    word: str
    signal: str
    time: datetime | None
    values: dict[str, float | None]
    open: bool


_NUMERIC = ("price", "qty", "profit", "profit_percent", "cum_profit", "run_up",
            "run_up_percent", "drawdown", "drawdown_percent", "commission")


class _RowReader:
    """Reads one row after another; positions and lookups are worked out once per table."""

    def __init__(self, cols: TradeColumns, where: Where) -> None:
        self.cols = cols
        self.where = where
        self.width = max(cols.index.values()) + 1
        self.number_at = cols.index["trade_number"]
        self.type_at = cols.index["type"]
        self.time_at = cols.index["datetime"]
        self.signal_at = cols.index.get("signal")
        self.numeric = [(f, cols.index[f], cols.decimals.get(f)) for f in _NUMERIC
                        if f in cols.index]
        self.names = [f for f, _p, _d in self.numeric]
        positions = [p for _f, p, _d in self.numeric]
        self.pick: Callable[[Sequence[Any]], tuple[Any, ...]] = (
            (lambda cells: (cells[positions[0]],)) if len(positions) == 1
            else operator.itemgetter(*positions))
        self.plain = {float, type(None)}
        self.types: dict[str, tuple[str | None, str | None]] = {}
        self.opens: dict[str, bool] = {}

    def read(self, cells: Sequence[Any], line: int) -> tuple[int, _Row]:
        if len(cells) < self.width:
            cells = [*cells, *([None] * (self.width - len(cells)))]
        field = "trade_number"
        try:
            raw_number = cells[self.number_at]
            if type(raw_number) is float and raw_number.is_integer():
                number: int | None = int(raw_number)  # the XLSX case, checked cheaply
            else:
                number = to_int(raw_number)
            if number is None:
                raise CellError("expected a trade number, found an empty cell")
            field = "type"
            word = cells[self.type_at]
            if type(word) is not str or word != word.strip():
                word = to_text(word)
            if not word:
                raise CellError("expected a trade type, found an empty cell")
            role, side = self._type(word)
            signal = "" if self.signal_at is None else to_text(cells[self.signal_at])
            field = "datetime"
            raw_time = cells[self.time_at]
            is_open = role != "entry" and self._is_open(signal)
            if is_open and raw_time in (None, ""):
                time = None
            elif type(raw_time) is float:  # the XLSX case, without to_datetime's dispatch
                time = from_serial(raw_time, self.where.tz, self.where.date1904)
            else:
                time = to_datetime(raw_time, self.where.tz, date1904=self.where.date1904,
                                   day_first=self.cols.day_first)
            raw_values = self.pick(cells)
            if self.plain >= set(map(type, raw_values)):  # floats and blanks (XLSX): as-is
                values: dict[str, float | None] = dict(zip(self.names, raw_values,
                                                           strict=True))
            else:
                values = {}
                for field, position, decimal in self.numeric:  # `field` names the error
                    value = cells[position]
                    values[field] = value if type(value) is float else to_float(value,
                                                                                  decimal)
        except CellError as exc:
            raise self.where.error(exc, line, self.cols.headers.get(field, field)) from None
        return number, _Row(line, role, side, word, signal, time, values, is_open)

    def _type(self, raw: str) -> tuple[str | None, str | None]:
        kind = self.types.get(raw)
        if kind is None:
            kind = self.types[raw] = aliases.trade_type(raw) or (None, None)
        return kind

    def _is_open(self, signal: str) -> bool:
        found = self.opens.get(signal)
        if found is None:
            found = self.opens[signal] = aliases.is_open_signal(signal)
        return found


def build_trades(rows: Iterable[tuple[int, Sequence[Any]]], cols: TradeColumns,
                 where: Where) -> tuple[tuple[Trade, ...], list[str]]:
    """Pair the rows by trade number into trades (sorted by number), plus any warnings."""
    groups: dict[int, list[_Row]] = {}
    reader = _RowReader(cols, where)
    number_at = cols.index["trade_number"]
    for line, cells in rows:
        if (len(cells) <= number_at or cells[number_at] in (None, "")) and \
                not any(c not in (None, "") for c in cells):
            continue  # an empty row (checked cell by cell only when its number is missing)
        number, row = reader.read(cells, line)
        group = groups.get(number)
        if group is None:
            groups[number] = [row]
        else:
            group.append(row)
    warnings = list(cols.warnings)
    if any(side is None for _role, side in reader.types.values()):
        learned = type_words.learn(groups, where, cols)
        warnings.append(type_words.describe(learned, where))
    pairs = {number: _roles(number, groups[number], where, cols) for number in sorted(groups)}
    if not any(reader.opens.values()) and not _english(cols):
        warnings += _open_by_shape(pairs)
    trades: list[Trade] = []
    for number, (entry, exit_row) in pairs.items():
        if exit_row is None:
            warnings.append(f"trade {number} has an entry row (row {entry.line}) but no exit "
                            f"row: taken as still open")
        trades.append(_trade(number, entry, exit_row))
    return tuple(trades), warnings


_ENGLISH_HEADERS = frozenset(
    aliases.normalise(word) for words in locales.locales()[0].tables["trade_columns"].values()
    for word in words)


def _english(cols: TradeColumns) -> bool:
    """Whether the table's headers are English, where "Open" is known for certain."""
    for header in cols.headers.values():
        named = aliases.split_currency(header)[0]
        if not {aliases.normalise(named), aliases.normalise(named.removesuffix("%"))} & \
                _ENGLISH_HEADERS:
            return False
    return True


def _open_by_shape(pairs: dict[int, tuple[_Row, _Row | None]]) -> list[str]:
    """Open trades in a language whose word for "Open" no table knows, told by their shape.

    TradingView lists a trade still open at the last bar with an exit row that carries the
    "Open" signal, the last bar's time and the unrealised P&L. So: the exit signal of the
    newest trade counts as that word when every exit row with it sits at the latest time in
    the list, the trades with it are the newest ones, and no entry row uses it.
    """
    exits = {n: x for n, (_e, x) in pairs.items() if x is not None and x.time is not None}
    if not exits:
        return []
    newest = max(exits)
    word = exits[newest].signal
    last = max(x.time for x in exits.values())  # type: ignore[type-var]
    marked = [n for n, x in exits.items() if x.signal == word]
    if not word or any(exits[n].time != last for n in marked) or \
            any(e.signal == word for e, _x in pairs.values()) or \
            sorted(marked) != sorted(exits)[-len(marked):] or len(marked) == len(exits):
        return []
    for number in marked:
        exits[number].open = True
    numbers = ", ".join(str(n) for n in sorted(marked))
    return [f"trade{'s' if len(marked) > 1 else ''} {numbers} taken as still open: the exit "
            f"signal {word!r} (not in tvdesk's label tables) appears only on the newest "
            f"trades, at the last bar"]


def _roles(number: int, rows: list[_Row], where: Where,
           cols: TradeColumns) -> tuple[_Row, _Row | None]:
    """The entry and exit row of one trade; rows naming only a side are told apart by time."""
    type_header = cols.headers["type"]
    unknown = [r for r in rows if r.role is None]
    if unknown:
        ordered = type_words.by_time(rows)
        if len(rows) > 2:
            raise where.error(f"trade {number} has {len(rows)} rows; expected an entry and an "
                              f"exit row", rows[-1].line, type_header)
        for position, row in enumerate(ordered):
            if row.role is None:
                row.role = "entry" if position == 0 else "exit"
    entries = [r for r in rows if r.role == "entry"]
    exits = [r for r in rows if r.role == "exit"]
    if len(entries) != 1 or len(exits) > 1:
        lines = ", ".join(str(r.line) for r in rows)
        raise where.error(
            f"trade {number} has {len(entries)} entry and {len(exits)} exit rows (rows {lines});"
            f" expected one entry row and one exit row", rows[-1].line, type_header)
    entry = entries[0]
    exit_row = exits[0] if exits else None
    if exit_row is not None and exit_row.side != entry.side:
        raise where.error(f"trade {number}: the entry row is {entry.side} but the exit row is "
                          f"{exit_row.side}", exit_row.line, type_header)
    if entry.time is None:
        raise where.error(f"trade {number}: the entry row has no date", entry.line,
                          cols.headers["datetime"])
    if entry.values.get("price") is None:
        raise where.error(f"trade {number}: the entry row has no price", entry.line,
                          cols.headers["price"])
    return entry, exit_row


def _magnitude(value: float | None) -> float | None:
    return None if value is None else abs(value)


def _trade(number: int, entry: _Row, exit_row: _Row | None) -> Trade:
    # Values are repeated on both rows; P&L and excursions are read from the exit row only.
    stats = exit_row.values if exit_row is not None else entry.values
    is_open = exit_row is None or exit_row.open
    closed = exit_row if not is_open else None
    qty = entry.values.get("qty")
    return Trade(
        number=number,
        side="long" if entry.side == "long" else "short",
        entry_time=entry.time,  # type: ignore[arg-type]  # checked in _roles
        entry_price=entry.values["price"],  # type: ignore[arg-type]
        qty=qty if qty is not None else (stats.get("qty") or 0.0),
        exit_time=closed.time if closed else None,
        exit_price=closed.values.get("price") if closed else None,
        profit=stats.get("profit"),
        profit_percent=stats.get("profit_percent"),
        entry_signal=entry.signal,
        exit_signal=closed.signal if closed else "",
        open=is_open,
        commission=stats.get("commission"),
        run_up=_magnitude(stats.get("run_up")),
        run_up_percent=_magnitude(stats.get("run_up_percent")),
        drawdown=_magnitude(stats.get("drawdown")),
        drawdown_percent=_magnitude(stats.get("drawdown_percent")),
        cum_profit=stats.get("cum_profit"),
    )
