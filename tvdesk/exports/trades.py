"""From List-of-trades rows (XLSX sheet or CSV) to `Trade` values.

TradingView writes two rows per trade, exit first, with the trade's values repeated on both.
Rows are paired by trade number, never by position: with pyramiding several entries are open at
once and their rows interleave. P&L, MFE/MAE and cumulative P&L are taken from the exit row
only, so a value is never counted twice. An open trade's exit row carries the signal "Open" and
the unrealised P&L; it becomes `Trade(open=True)` with no exit time or price.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from tvdesk.errors import InputError
from tvdesk.exports import aliases
from tvdesk.exports.cells import CellError, located, to_datetime, to_float, to_int, to_text
from tvdesk.model import Trade


@dataclass(frozen=True, slots=True)
class TradeColumns:
    """Where each canonical field sits in the rows, and the header each came from."""

    index: dict[str, int]
    headers: dict[str, str]
    currency: str | None


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


def map_header(cells: Sequence[Any], where: Where, line: int) -> TradeColumns:
    """Canonical fields of a List-of-trades header row; an unknown header is an InputError."""
    index: dict[str, int] = {}
    headers: dict[str, str] = {}
    currency: str | None = None
    for position, cell in enumerate(cells):
        header = to_text(cell)
        if not header:
            continue
        found = aliases.trade_column(header)
        if found is None:
            raise where.error(
                f"unknown List-of-trades column {header!r}; known columns are "
                f"{aliases.known_trade_headers()}", line, header)
        field, cur = found
        if field in index:
            raise where.error(f"columns {headers[field]!r} and {header!r} both mean {field}",
                              line, header)
        index[field] = position
        headers[field] = header
        currency = currency or cur
    missing = [f for f in aliases.REQUIRED_TRADE_FIELDS if f not in index]
    if missing:
        names = ", ".join(" / ".join(aliases.TRADE_COLUMNS[f][:3]) for f in missing)
        raise where.error(f"the List-of-trades header lacks required columns: {names}",
                          line, None)
    return TradeColumns(index, headers, currency)


@dataclass(slots=True)
class _Row:
    line: int
    role: str | None
    side: str
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
        self.numeric = [(f, cols.index[f]) for f in _NUMERIC if f in cols.index]
        self.types: dict[str, tuple[str | None, str]] = {}
        self.opens: dict[str, bool] = {}

    def read(self, cells: Sequence[Any], line: int) -> tuple[int, _Row]:
        if len(cells) < self.width:
            cells = [*cells, *([None] * (self.width - len(cells)))]
        field = "trade_number"
        try:
            number = to_int(cells[self.number_at])
            if number is None:
                raise CellError("expected a trade number, found an empty cell")
            field = "type"
            role, side = self._type(to_text(cells[self.type_at]))
            signal = "" if self.signal_at is None else to_text(cells[self.signal_at])
            field = "datetime"
            raw_time = cells[self.time_at]
            is_open = role != "entry" and self._is_open(signal)
            if is_open and raw_time in (None, ""):
                time = None
            else:
                time = to_datetime(raw_time, self.where.tz, date1904=self.where.date1904)
            values: dict[str, float | None] = {}
            for field, position in self.numeric:  # `field` names the error
                value = cells[position]
                values[field] = value if type(value) is float else to_float(value)
        except CellError as exc:
            raise self.where.error(exc, line, self.cols.headers.get(field, field)) from None
        return number, _Row(line, role, side, signal, time, values, is_open)

    def _type(self, raw: str) -> tuple[str | None, str]:
        kind = self.types.get(raw)
        if kind is None:
            kind = aliases.trade_type(raw)
            if kind is None:
                known = ", ".join(a for group in aliases.TRADE_TYPES.values() for a in group)
                raise CellError(f"unknown trade type {raw!r}; expected one of {known}")
            self.types[raw] = kind
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
    for line, cells in rows:
        if not any(c not in (None, "") for c in cells):
            continue
        number, row = reader.read(cells, line)
        group = groups.get(number)
        if group is None:
            groups[number] = [row]
        else:
            group.append(row)
    trades: list[Trade] = []
    warnings: list[str] = []
    for number in sorted(groups):
        entry, exit_row = _roles(number, groups[number], where, cols)
        if exit_row is None:
            warnings.append(f"trade {number} has an entry row (row {entry.line}) but no exit "
                            f"row: taken as still open")
        trades.append(_trade(number, entry, exit_row))
    return tuple(trades), warnings


def _roles(number: int, rows: list[_Row], where: Where,
           cols: TradeColumns) -> tuple[_Row, _Row | None]:
    """The entry and exit row of one trade; rows naming only a side are told apart by time."""
    type_header = cols.headers["type"]
    unknown = [r for r in rows if r.role is None]
    if unknown:
        # Exit row comes first in the file; the later time (or the earlier row) is the exit.
        ordered = sorted(rows, key=lambda r: (r.time is None, r.time or datetime.min, -r.line))
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
