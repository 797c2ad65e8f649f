"""The Performance, Trades analysis and Risk-adjusted performance sheets into metric keys.

Each sheet is a label column and up to six value columns (All/Long/Short × money/percent). The
numbers are kept exactly as TradingView states them; nothing here recomputes a metric.

Key rules (documented for the `--json` interface):
- `variant_key(key, scope, percent)`: "Net profit" in "Long %" is `net_profit_long_percent`.
- A metric the catalog defines without a percent variant (counts, ratios, metrics that are
  percentages already such as `percent_profitable`) takes its value from whichever column holds
  it, under the key without `_percent`; if both columns of a scope hold a value (a count and
  its share), the percent column's value is kept as `<key>_percent`.
- A duration cell ("31 days") becomes a number of days; its key ends in `_days` (the catalog's
  duration keys already do; any other label gets `_days` appended).
- Undefined values ("N/A", "∞") become None. A label no table knows is kept under a snake_case
  key of the label and reported once in the warnings, so a new TradingView row is never lost.
- When two rows give the same key ("Expected payoff" and "Avg P&L"), the first one wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tvdesk.exports import aliases
from tvdesk.exports.cells import CellError, duration_days, located, to_text
from tvdesk.exports.numbers import parse_number
from tvdesk.metric_catalog import BY_KEY, Scope, variant_key

_HEADER_SEARCH_ROWS = 10


def read_metric_sheet(rows: Iterable[tuple[int, Sequence[Any]]], *, source: str, sheet: str,
                      into: dict[str, Any], unknown: list[str]) -> str | None:
    """Add the sheet's metrics to `into`; return the currency its header names, if any."""
    columns: dict[int, tuple[Scope, bool, str]] | None = None
    currency: str | None = None
    for line, cells in rows:
        if columns is None:
            columns, currency = _header(cells)
            if columns is None and line >= _HEADER_SEARCH_ROWS:
                break
            continue
        label = to_text(cells[0]) if cells else ""
        if not label:
            continue
        found = aliases.metric_label(label)
        if found is None:
            key, forced_percent = aliases.slug(label), False
            unknown.append(label)
        else:
            key, forced_percent = found
        in_row: set[str] = set()
        for position, (scope, percent, header) in columns.items():
            if position >= len(cells) or cells[position] in (None, ""):
                continue
            try:
                target, value = _value(key, scope, percent or forced_percent, cells[position])
            except CellError as exc:
                raise located(exc, source=source, line=line, column=header,
                              sheet=sheet) from None
            if target in in_row and percent:
                target = f"{target}_percent"  # a count with its share in the % column
            in_row.add(target)
            into.setdefault(target, value)
    if columns is None:
        raise located(
            "no header row with All / Long / Short columns (such as 'All USD', 'All %', "
            "'Long USD') in the first rows", source=source, line=None, column=sheet,
            sheet=sheet)
    return currency


def _header(cells: Sequence[Any]) -> tuple[dict[int, tuple[Scope, bool, str]] | None,
                                           str | None]:
    columns: dict[int, tuple[Scope, bool, str]] = {}
    currency: str | None = None
    for position, cell in enumerate(cells):
        if position == 0:
            continue
        header = to_text(cell)
        found = aliases.metric_column(header) if header else None
        if found is not None:
            scope, percent, cur = found
            columns[position] = (scope, percent, header)
            currency = currency or cur
    return (columns or None), currency


def _value(key: str, scope: Scope, percent: bool, cell: Any) -> tuple[str, float | int | None]:
    definition = BY_KEY.get(key)
    if definition is not None and not definition.has_percent:
        percent = False
    if isinstance(cell, bool):
        raise CellError(f"expected a number, found {cell!r}")
    if isinstance(cell, (int, float)):
        number: float | None = float(cell)
    else:
        text = str(cell).strip()
        number = _number(text)
        if number is None:
            if aliases.is_undefined(text):
                return variant_key(key, scope, percent), None
            days = duration_days(text)
            if days is None:
                raise CellError(f"expected a number or a duration such as '31 days', "
                                f"found {text!r}")
            target = variant_key(key, scope, percent)
            return (target if target.endswith("_days") else f"{target}_days"), days
    target = variant_key(key, scope, percent)
    if number is not None and definition is not None and definition.unit == "count" \
            and number.is_integer():
        return target, int(number)
    return target, number


def _number(text: str) -> float | None:
    return parse_number(text)
