"""TradingView's "Download data as XLSX" workbook into a `BacktestResult`.

The workbook has five sheets: Performance, Trades analysis, Risk-adjusted performance, List of
trades and Properties. Sheets are found by any known name (English, Portuguese, older names, see
`aliases.SHEETS`), then by position for a name no table knows yet, with a warning that says so.
List of trades, Performance and Trades analysis are required; a missing Risk-adjusted or
Properties sheet is only a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

from tvdesk.errors import InputError
from tvdesk.exports import aliases, metric_evidence
from tvdesk.exports.aliases import SheetKind
from tvdesk.exports.checks import consistency_warnings
from tvdesk.exports.metric_sheets import MetricRow, read_metric_sheet, store_row, store_unknown
from tvdesk.exports.properties import read_properties
from tvdesk.exports.trades import TradeColumns, Where, build_trades, map_header
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
        unknown: list[MetricRow] = []
        currency = None
        for kind in _METRIC_SHEETS:
            if kind in sheets:
                found = read_metric_sheet(book.rows(sheets[kind]), source=source,
                                          sheet=sheets[kind], into=metrics, unknown=unknown,
                                          warnings=warnings, kind=kind)
                currency = currency or found
        trades, trade_warnings, columns = _trades(book, sheets["trades"], tz)
        props = read_properties(book.rows(sheets["properties"])) if "properties" in sheets \
            else {}
    warnings += _name_unknown_rows(unknown, trades, metrics, source)
    trade_currency = columns.currency if columns else None
    if not props.get("currency") and (trade_currency or currency):
        props["currency"] = trade_currency or currency
    if columns is not None and columns.price_currency:
        props.setdefault("price_currency", columns.price_currency)
    warnings += trade_warnings
    warnings += consistency_warnings(metrics, trades)
    return BacktestResult(source="export", metrics=FrozenMap(metrics), trades=trades,
                          properties=FrozenMap(props), warnings=tuple(warnings))


def _name_unknown_rows(unknown: list[MetricRow], trades: Sequence[Trade],
                       metrics: dict[str, Any], source: str) -> list[str]:
    """Rows with unknown labels: named by their values where the trades prove which metric
    they are, else kept under snake_case keys; both reported."""
    if not unknown:
        return []
    named = metric_evidence.identify(unknown, trades, set(metrics))
    warnings = []
    for row, key, _why in named:
        store_row(row, key, False, into=metrics, source=source)
    if named:
        warnings.append("metric rows named by their values (their labels are not in tvdesk's "
                        "label tables): " + "; ".join(
                            f"{row.label!r} (sheet {row.sheet!r}, row {row.line}) as {key}, "
                            f"equal to {why}" for row, key, why in named))
    taken = {id(row) for row, _key, _why in named}
    rest = [row for row in unknown if id(row) not in taken]
    for row in rest:
        store_unknown(row, into=metrics, source=source)
    if rest:
        warnings.append("metric labels this version does not know, kept under snake_case "
                        "keys: " + ", ".join(repr(row.label) for row in rest))
    return warnings


def read_xlsx_trades(path: str | Path, tz: tzinfo) -> tuple[Trade, ...]:
    """Only the List of trades: cheaper when the metrics are not wanted."""
    with XlsxBook(path) as book:
        sheets, _warnings = locate_sheets(book.sheet_names, str(path), need=("trades",))
        return _trades(book, sheets["trades"], tz)[0]


def locate_sheets(names: Sequence[str], source: str, need: Sequence[SheetKind] = _REQUIRED,
                  ) -> tuple[dict[SheetKind, str], list[str]]:
    """Sheet kind -> sheet name, by alias first and by position second."""
    report = _run_report_sheets(names)
    if report is not None:
        return report
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


_TRIAL_SHEET = re.compile(r"^T(\d+) ")


def _run_report_sheets(names: Sequence[str]
                       ) -> tuple[dict[SheetKind, str], list[str]] | None:
    """A tvdesk run report (`tvdesk.reports.run_workbook`): a Summary and, per reported trial,
    the five export sheets named "T12 Performance", ... in the export's order. The first trial
    it details is read (the report ranks it first by its ranking metric, which need not be the
    run's best trial by the objective), and the warning names the others."""
    groups: dict[str, list[str]] = {}
    for name in names:
        match = _TRIAL_SHEET.match(name)
        if match:
            groups.setdefault(match.group(1), []).append(name)
    complete = {trial: group for trial, group in groups.items()
                if len(group) == len(aliases.SHEET_ORDER)}
    if not complete or any(aliases.sheet_kind(n) == "trades" for n in names):
        return None
    trial, group = next(iter(complete.items()))
    others = [f"T{t}" for t in complete if t != trial]
    note = (f"a tvdesk run report: read trial T{trial}'s sheets, the first trial it details"
            + (f" (the workbook also holds {', '.join(others)})" if others else ""))
    return dict(zip(aliases.SHEET_ORDER, group, strict=True)), [note]


def _trades(book: XlsxBook, sheet: str, tz: tzinfo,
            ) -> tuple[tuple[Trade, ...], list[str], TradeColumns | None]:
    where = Where(source=book.source, sheet=sheet, tz=tz, date1904=book.date1904)
    rows = iter(book.rows(sheet))
    header = _first_filled(rows)
    if header is None:
        return (), [f"sheet {sheet!r} is empty: the export has no trades"], None
    body = list(rows)
    columns = map_header(header[1], where, header[0], [cells for _line, cells in body])
    trades, warnings = build_trades(body, columns, where)
    return trades, warnings, columns


def _first_filled(rows: Iterator[tuple[int, list[Any]]]) -> tuple[int, list[Any]] | None:
    for line, cells in rows:
        if any(c not in (None, "") for c in cells):
            return line, cells
    return None
