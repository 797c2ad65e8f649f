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
from dataclasses import dataclass
from typing import Any

from tvdesk.exports import aliases
from tvdesk.exports.cells import CellError, duration_days, located, to_text
from tvdesk.exports.numbers import parse_number
from tvdesk.metric_catalog import BY_KEY, Scope, variant_key

_HEADER_SEARCH_ROWS = 10


@dataclass(slots=True)
class MetricRow:
    """A row whose label no locale table knows: kept whole until its values are matched."""

    sheet: str
    line: int
    label: str
    cells: Sequence[Any]
    columns: dict[int, tuple[Scope, bool, str]]
    kind: str = ""  # the sheet's kind (performance, trades_analysis, risk_adjusted)

    def number(self, scope: Scope, percent: bool = False) -> float | None:
        for position, (col_scope, col_percent, _header) in self.columns.items():
            if (col_scope, col_percent) == (scope, percent) and position < len(self.cells):
                cell = self.cells[position]
                if isinstance(cell, (int, float)) and not isinstance(cell, bool):
                    return float(cell)
                if isinstance(cell, str):
                    return parse_number(cell)
        return None


def read_metric_sheet(rows: Iterable[tuple[int, Sequence[Any]]], *, source: str, sheet: str,
                      into: dict[str, Any], unknown: list[MetricRow],
                      warnings: list[str] | None = None, kind: str = "") -> str | None:
    """Add the sheet's metrics to `into`; return the currency its header names, if any.

    Rows with a label no table knows go to `unknown` (see `store_row` and
    `tvdesk.exports.metric_evidence`), so their values can still be matched to a metric.
    """
    columns: dict[int, tuple[Scope, bool, str]] | None = None
    currency: str | None = None
    for line, cells in rows:
        if columns is None:
            columns, currency, note = _header(cells, sheet)
            if note and warnings is not None:
                warnings.append(note)
            if columns is None and line >= _HEADER_SEARCH_ROWS:
                break
            continue
        label = to_text(cells[0]) if cells else ""
        if not label:
            continue
        row = MetricRow(sheet, line, label, cells, columns, kind)
        found = aliases.metric_label(label)
        if found is None:
            unknown.append(row)
        else:
            store_row(row, *found, into=into, source=source)
    if columns is None:
        raise located(
            "no header row with All / Long / Short columns (such as 'All USD', 'All %', "
            "'Long USD', or the same shape in any language: a label column, then a money and "
            "a % column per scope) in the first rows", source=source, line=None, column=sheet,
            sheet=sheet)
    return currency


def store_row(row: MetricRow, key: str, forced_percent: bool, *, into: dict[str, Any],
              source: str) -> None:
    """Every value of one row under `key`'s variant keys (the first value of a key wins)."""
    in_row: set[str] = set()
    for position, (scope, percent, header) in row.columns.items():
        if position >= len(row.cells) or row.cells[position] in (None, ""):
            continue
        try:
            target, value = _value(key, scope, percent or forced_percent, row.cells[position])
        except CellError as exc:
            raise located(exc, source=source, line=row.line, column=header,
                          sheet=row.sheet) from None
        if target in in_row and percent:
            target = f"{target}_percent"  # a count with its share in the % column
        in_row.add(target)
        into.setdefault(target, value)


def store_unknown(row: MetricRow, *, into: dict[str, Any], source: str) -> None:
    """A row nothing identified, kept under a snake_case key of its label."""
    store_row(row, aliases.slug(row.label), False, into=into, source=source)


_SCOPE_ORDER: tuple[Scope, ...] = ("all", "long", "short")


def _header(cells: Sequence[Any], sheet: str
            ) -> tuple[dict[int, tuple[Scope, bool, str]] | None, str | None, str | None]:
    """The scope columns of a header row, by shape: after the label column, a run of headers
    "<word> <CURRENCY>" / "<word> %", one word per scope, in TradingView's fixed order All,
    Long, Short. Known scope words confirm the order; a disagreement is reported."""
    words: list[str] = []
    parsed: dict[int, tuple[str, bool, str]] = {}
    currency: str | None = None
    for position, cell in enumerate(cells):
        if position == 0:
            continue
        if isinstance(cell, (int, float)) and not isinstance(cell, bool):
            return None, None, None  # a data row, not a header
        header = to_text(cell)
        if not header:
            continue
        base, cur = aliases.split_currency(header)
        percent = base.endswith("%")
        word = base[:-1].strip() if percent else base
        if not percent and cur is None and aliases.metric_column(header) is None:
            return _positional(cells, sheet)  # no scope word, no money or % suffix
        parsed[position] = (word, percent, header)
        currency = currency or cur
        if word not in words:
            words.append(word)
    if not parsed or len(words) > len(_SCOPE_ORDER):
        return None, None, None
    by_order = dict(zip(words, _SCOPE_ORDER, strict=False))
    known = {w: found[0] for w in words if (found := aliases.metric_column(w)) is not None}
    note = None
    disagree = [w for w, scope in known.items() if scope != by_order[w]]
    if disagree:
        note = (f"sheet {sheet!r}: scope columns {', '.join(repr(w) for w in words)} read as "
                f"{' / '.join(by_order[w].capitalize() for w in words)} by their order; the "
                f"words {', '.join(repr(w) for w in disagree)} name another scope")
    columns = {position: (by_order[word], percent, header)
               for position, (word, percent, header) in parsed.items()}
    return columns, currency, note


_POSITIONAL: tuple[tuple[Scope, bool], ...] = (
    ("all", False), ("all", True), ("long", False), ("long", True), ("short", False),
    ("short", True))


def _positional(cells: Sequence[Any], sheet: str
                ) -> tuple[dict[int, tuple[Scope, bool, str]] | None, None, str | None]:
    """A header of six words no table knows and no suffix: TradingView's fixed order of
    All, All %, Long, Long %, Short, Short % is assumed, and said."""
    texts = [to_text(c) for c in cells[1:]]
    while texts and not texts[-1]:
        texts.pop()
    if len(texts) != len(_POSITIONAL) or not all(texts) or any(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in cells[1:]):
        return None, None, None
    columns = {i + 1: (scope, percent, text)
               for i, ((scope, percent), text) in enumerate(zip(_POSITIONAL, texts,
                                                                strict=True))}
    note = (f"sheet {sheet!r}: header {', '.join(repr(t) for t in texts)} names no scope tvdesk "
            f"knows; read by position as All, All %, Long, Long %, Short, Short %")
    return columns, None, note


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
        number = parse_number(text)
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
