"""TradingView's "Download data as XLSX" workbook into a `BacktestResult`.

The workbook has five sheets: Performance, Trades analysis, Risk-adjusted performance, List of
trades and Properties. Sheets are found by any known name (English, Portuguese, older names, see
`aliases.SHEETS`), then by position for a name no table knows yet, with a warning that says so.
List of trades, Performance and Trades analysis are required; a missing Risk-adjusted or
Properties sheet is only a warning.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

from tvdesk.errors import InputError
from tvdesk.exports import aliases
from tvdesk.exports.aliases import SheetKind
from tvdesk.exports.checks import consistency_warnings
from tvdesk.exports.metric_sheets import read_metric_sheet
from tvdesk.exports.properties import read_properties
from tvdesk.exports.trades import Where, build_trades, map_header
from tvdesk.exports.xlsx_parts import XlsxBook
from tvdesk.model import BacktestResult, FrozenMap, Trade

_REQUIRED: tuple[SheetKind, ...] = ("trades", "performance", "trades_analysis")
_METRIC_SHEETS: tuple[SheetKind, ...] = ("performance", "trades_analysis", "risk_adjusted")


def read_xlsx(path: str | Path, tz: tzinfo) -> BacktestResult:
    """Metrics, trades and properties of one export; warnings for anything inconsistent."""
    source = str(path)
    with XlsxBook(path) as book:
        sheets, warnings = locate_sheets(book.sheet_names, source)
        metrics: dict[str, Any] = {}
        unknown: list[str] = []
        currency = None
        for kind in _METRIC_SHEETS:
            if kind in sheets:
                found = read_metric_sheet(book.rows(sheets[kind]), source=source,
                                          sheet=sheets[kind], into=metrics, unknown=unknown)
                currency = currency or found
        trades, trade_warnings, trade_currency = _trades(book, sheets["trades"], tz)
        props = read_properties(book.rows(sheets["properties"])) if "properties" in sheets \
            else {}
    if unknown:
        warnings.append("metric labels this version does not know, kept under snake_case "
                        "keys: " + ", ".join(repr(label) for label in unknown))
    if not props.get("currency") and (currency or trade_currency):
        props["currency"] = currency or trade_currency
    warnings += trade_warnings
    warnings += consistency_warnings(metrics, trades)
    return BacktestResult(source="export", metrics=FrozenMap(metrics), trades=trades,
                          properties=FrozenMap(props), warnings=tuple(warnings))


def read_xlsx_trades(path: str | Path, tz: tzinfo) -> tuple[Trade, ...]:
    """Only the List of trades: cheaper when the metrics are not wanted."""
    with XlsxBook(path) as book:
        sheets, _warnings = locate_sheets(book.sheet_names, str(path), need=("trades",))
        return _trades(book, sheets["trades"], tz)[0]


def locate_sheets(names: Sequence[str], source: str, need: Sequence[SheetKind] = _REQUIRED,
                  ) -> tuple[dict[SheetKind, str], list[str]]:
    """Sheet kind -> sheet name, by alias first and by position second."""
    found: dict[SheetKind, str] = {}
    for name in names:
        kind = aliases.sheet_kind(name)
        if kind is not None and kind not in found:
            found[kind] = name
    warnings: list[str] = []
    for position, kind in enumerate(aliases.SHEET_ORDER):
        if kind in found or position >= len(names):
            continue
        name = names[position]
        if aliases.sheet_kind(name) is None and name not in found.values():
            found[kind] = name
            warnings.append(f"sheet {name!r} has an unknown name; read as "
                            f"{aliases.SHEETS[kind][0]!r} because of its position")
    for kind in need:
        if kind not in found:
            accepted = ", ".join(repr(n) for n in aliases.SHEETS[kind])
            raise InputError(
                f"the workbook has no {aliases.SHEETS[kind][0]!r} sheet (accepted names: "
                f"{accepted}); its sheets are {', '.join(repr(n) for n in names)}. Is this a "
                f"TradingView strategy report export?", source=source,
                column=aliases.SHEETS[kind][0])
    for kind in aliases.SHEET_ORDER:
        if kind not in found and kind not in need:
            warnings.append(f"the workbook has no {aliases.SHEETS[kind][0]!r} sheet")
    return found, warnings


def _trades(book: XlsxBook, sheet: str, tz: tzinfo,
            ) -> tuple[tuple[Trade, ...], list[str], str | None]:
    where = Where(source=book.source, sheet=sheet, tz=tz, date1904=book.date1904)
    rows = iter(book.rows(sheet))
    header = _first_filled(rows)
    if header is None:
        return (), [f"sheet {sheet!r} is empty: the export has no trades"], None
    body = list(rows)
    columns = map_header(header[1], where, header[0], [cells for _line, cells in body])
    trades, warnings = build_trades(body, columns, where)
    return trades, warnings, columns.currency


def _first_filled(rows: Iterator[tuple[int, list[Any]]]) -> tuple[int, list[Any]] | None:
    for line, cells in rows:
        if any(c not in (None, "") for c in cells):
            return line, cells
    return None
