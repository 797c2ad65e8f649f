"""The XLSX report, and TradingView-shaped workbooks of single results.

`render_xlsx(data)` builds the run's workbook:
- `Summary`: one row per trial (ids, every input as its own column, key metrics under
  TradingView's labels, tag and reasons);
- for each trial shown in full, TradingView's five sheets prefixed with the trial id
  (`T12 Performance`, `T12 Trades analysis`, `T12 Risk-adjusted performance`,
  `T12 List of trades`, `T12 Properties`), laid out exactly as TradingView's own export;
- `Timeline`: one row per trial in start order; `Robustness` when there are run statistics;
- `Settings`: the run's settings flattened to key / value, secrets dropped.

`write_tradingview_xlsx(result, path)` writes one result as a standalone workbook with
TradingView's plain sheet names, which `tvdesk.exports.read_export` reads back with the same
trades and metrics. The layout is TradingView's early-2026 English export: metric sheets with
`All / Long / Short` × currency / % columns, two rows per trade (exit row first), dates as real
date cells in the chart's timezone without an offset, booleans as On / Off in Properties.

Numbers are numbers, dates are dates; every sheet has a bold, frozen header row and set column
widths. openpyxl's write-only mode keeps a 1,000-trial run fast.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, NamedTuple

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from tvdesk.fileio import write_bytes_atomically
from tvdesk.metric_catalog import METRICS, MetricDef, variant_key
from tvdesk.model import BacktestResult, Trade
from tvdesk.reports.data import ReportData, TrialSummary, zone
from tvdesk.reports.labels import (
    KEY_METRICS,
    column_header,
    flatten_settings,
    format_plain,
    input_headers,
    is_number,
    label,
    number_format,
)

SHEETS = ("Performance", "Trades analysis", "Risk-adjusted performance", "List of trades",
          "Properties")
_SHORT_SHEETS = {"Risk-adjusted performance": "Risk-adjusted", "Trades analysis": "Trades",
                 "List of trades": "List of trades", "Performance": "Performance",
                 "Properties": "Properties"}
_SHEET_OF = {"Performance": "performance", "Trades analysis": "trades_analysis",
             "Risk-adjusted performance": "risk_adjusted"}
TRADE_HEADERS = ("Trade #", "Type", "Date and time", "Signal", "Price {cur}", "Size (qty)",
                 "Position size (value)", "Net P&L {cur}", "Net P&L %",
                 "Favorable excursion {cur}", "Favorable excursion %",
                 "Adverse excursion {cur}", "Adverse excursion %", "Cumulative P&L {cur}",
                 "Cumulative P&L %")
DATE_FORMAT = "yyyy-mm-dd hh:mm"
MONEY = "#,##0.00"
PERCENT = "0.00"
MAX_SHEET_NAME = 31
_BOLD = Font(name="Calibri", size=11, bold=True)  # the body's font, bold
_HEAD_LEFT = Alignment(wrap_text=True, vertical="bottom")
_HEAD_RIGHT = Alignment(wrap_text=True, vertical="bottom", horizontal="right")
_RIGHT = Alignment(horizontal="right")
BOOL_FORMAT = '"TRUE";"TRUE";"FALSE"'  # LibreOffice shows bare booleans as 1 / 0
_UNIT_FORMATS = {"money": MONEY, "percent": PERCENT, "count": "#,##0", "ratio": "0.000",
                 "bars": "#,##0", "days": '0.0 "days"'}


class Styled(NamedTuple):
    """A cell value with its own number format (rows whose columns mix units)."""

    value: Any
    format: str


# --------------------------------------------------------------------------- sheet writer


def _width(value: Any) -> int:
    if isinstance(value, Styled):
        value = value.value
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, float):
        return min(len(f"{value:,.2f}"), 18)
    return len(str(value))


def write_sheet(book: Workbook, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]],
                formats: Mapping[int, str] | None = None, *, freeze: str = "A2",
                min_width: int = 6, max_width: int = 60) -> WriteOnlyWorksheet:
    """One sheet: a bold, frozen header, column widths from the content, number formats by
    column (`formats` maps a 0-based column to an Excel format).

    Long headers wrap over a taller header row instead of widening a column of short numbers;
    headers of number columns are right-aligned like their numbers.
    """
    sheet = book.create_sheet(name)
    formats = dict(formats or {})
    columns = max([len(header), *(len(r) for r in rows[:500])])
    widths = [max(max((len(w) for w in str(h).split()), default=0), min(len(str(h)), 12)) + 2
              for h in header]
    widths += [0] * (columns - len(widths))
    numeric = [False] * columns
    seen = [False] * columns
    for row in rows[:500]:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], _width(value) + 2)
            plain = value.value if isinstance(value, Styled) else value
            if not seen[index] and plain not in (None, "", "N/A"):
                seen[index] = True
                numeric[index] = is_number(plain) or isinstance(plain, (datetime, date))
    widths = [max(min_width, min(w, max_width)) for w in widths]
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    lines = max([1, *(math.ceil(len(str(h)) / max(w - 2, 1)) for h, w in
                      zip(header, widths, strict=False))])
    if lines > 1:
        sheet.row_dimensions[1].height = 15 * min(lines, 4)
    if freeze:
        sheet.freeze_panes = freeze
    # Printing: landscape, every column on one page width, header row on every page.
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    head = []
    for index, text in enumerate(header):
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = _BOLD
        cell.alignment = _HEAD_RIGHT if numeric[index] else _HEAD_LEFT
        head.append(cell)
    sheet.append(head)
    for row in rows:
        out: list[Any] = []
        for index, value in enumerate(row):
            fmt = formats.get(index)
            if isinstance(value, Styled):
                value, fmt = value
            if isinstance(value, bool):
                fmt = BOOL_FORMAT
            if isinstance(value, datetime):
                fmt = fmt or DATE_FORMAT
            if fmt is not None and (is_number(value) or isinstance(value, (bool, datetime))):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = fmt
                out.append(cell)
            elif value == "N/A" and numeric[index]:
                cell = WriteOnlyCell(sheet, value=value)
                cell.alignment = _RIGHT
                out.append(cell)
            else:
                out.append(value)
        sheet.append(out)
    return sheet


def naive(moment: datetime | None, tz: tzinfo | None) -> datetime | None:
    """A time as TradingView writes it: wall-clock in the chart's timezone, no offset."""
    if moment is None:
        return None
    if moment.tzinfo is not None and tz is not None:
        moment = moment.astimezone(tz)
    return moment.replace(tzinfo=None)


def _value(value: Any) -> Any:
    """A metric cell: numbers stay numbers, undefined is TradingView's "N/A"."""
    if value is None:
        return "N/A"
    if isinstance(value, float) and value != value:  # NaN
        return "N/A"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "N/A"
    return value


# --------------------------------------------------------------------------- TradingView sheets


def _currency(result: BacktestResult, default: str = "USD") -> str:
    return str(result.properties.get("currency") or default)


def metric_sheet_rows(result: BacktestResult, sheet: str) -> list[list[Any]]:
    """The rows of one metric sheet (`performance`, `trades_analysis`, `risk_adjusted`).

    Numbers carry the number format of their unit (`Styled`); undefined values are "N/A".
    """
    metrics = result.metrics
    rows: list[list[Any]] = []
    for definition in METRICS:
        if definition.sheet != sheet:
            continue
        row: list[Any] = [definition.label, None, None, None, None, None, None]
        filled = False
        for index, scope in enumerate(("all", "long", "short")):
            if scope != "all" and not definition.by_side:
                continue
            for column, key in _metric_cells(definition, scope, index):
                if key in metrics:
                    value = _value(metrics[key])
                    fmt = PERCENT if column % 2 == 0 else _UNIT_FORMATS[definition.unit]
                    row[column] = Styled(value, fmt) if is_number(value) else value
                    filled = True
        if filled:
            rows.append(row)
    return rows


def _metric_cells(definition: MetricDef, scope: Any, index: int) -> list[tuple[int, str]]:
    money, percent = 1 + 2 * index, 2 + 2 * index
    key = variant_key(definition.key, scope)
    if definition.has_percent:
        return [(money, key), (percent, variant_key(definition.key, scope, True))]
    if definition.unit == "percent":
        return [(percent, key)]
    return [(money, key)]


def trade_rows(trades: Iterable[Trade], tz: tzinfo | None, initial_capital: float | None,
               point_value: float = 1.0) -> list[list[Any]]:
    """List of trades: two rows per trade, exit row first, every value on both rows."""
    rows: list[list[Any]] = []
    for trade in sorted(trades, key=lambda t: t.number):
        side = "long" if trade.side == "long" else "short"
        cum_pct = (trade.cum_profit / initial_capital * 100
                   if trade.cum_profit is not None and initial_capital else None)
        value = trade.entry_price * trade.qty * point_value if trade.qty is not None else None
        shared = [trade.qty, value, trade.profit, trade.profit_percent, trade.run_up,
                  trade.run_up_percent, trade.drawdown, trade.drawdown_percent,
                  trade.cum_profit, cum_pct]
        if trade.open:
            exit_cells = [None, "Open", None]
        else:
            exit_cells = [naive(trade.exit_time, tz), trade.exit_signal, trade.exit_price]
        rows.append([trade.number, f"Exit {side}", *exit_cells, *shared])
        rows.append([trade.number, f"Entry {side}", naive(trade.entry_time, tz),
                     trade.entry_signal, trade.entry_price, *shared])
    return rows


_TRADE_FORMATS = {2: DATE_FORMAT, 6: MONEY, 7: MONEY, 8: PERCENT, 9: MONEY, 10: PERCENT,
                  11: MONEY, 12: PERCENT, 13: MONEY, 14: PERCENT}


def _range_text(start: Any, end: Any, tz: tzinfo | None) -> str | None:
    def fmt(value: Any) -> str | None:
        if value in (None, ""):
            return None
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        return f"{naive(moment, tz):%Y-%m-%d %H:%M}"

    a, b = fmt(start), fmt(end)
    return f"{a} — {b}" if a and b else None


def _order_size(settings: Mapping[str, Any], currency: str) -> str | None:
    kind = str(settings.get("default_qty_type") or "strategy.fixed")
    amount = settings.get("default_qty_value")
    if amount is None:
        return None
    amount_text = format_plain(amount)
    if kind.endswith("percent_of_equity"):
        return f"{amount_text} % of equity"
    if kind.endswith("cash"):
        return f"{amount_text} {currency}"
    return f"{amount_text} Contracts"


def _commission(settings: Mapping[str, Any], currency: str) -> str | None:
    value = settings.get("commission_value")
    if value is None:
        return None
    kind = str(settings.get("commission_type") or "strategy.commission.percent")
    text = format_plain(value)
    if kind.endswith("cash_per_order"):
        return f"{text} {currency} per order"
    if kind.endswith("cash_per_contract"):
        return f"{text} {currency} per contract"
    return f"{text} %"


def _on_off(value: Any) -> Any:
    return ("On" if value else "Off") if isinstance(value, bool) else value


def properties_rows(result: BacktestResult, tz: tzinfo | None) -> list[list[Any]]:
    """Properties: name / value rows under TradingView's names, inputs in between."""
    props = result.properties
    currency = _currency(result)
    settings: Mapping[str, Any] = props.get("strategy_settings") or {}
    rows: list[list[Any]] = []

    def add(name: str, value: Any) -> None:
        if value not in (None, ""):
            rows.append([name, _on_off(value)])

    trading = props.get("trading_range")
    if isinstance(trading, (list, tuple)) and len(trading) == 2:
        trading_text = _range_text(trading[0], trading[1], tz)
        start = props.get("date_from") or trading[0]
        end = props.get("date_to") or trading[1]
        backtesting_text = props.get("backtesting_range") or _range_text(start, end, tz)
    else:
        trading_text = trading
        backtesting_text = props.get("backtesting_range")
    add("Trading range", trading_text)
    add("Backtesting range", backtesting_text)
    add("Symbol", props.get("symbol"))
    add("Timeframe", None if props.get("timeframe") is None else str(props["timeframe"]))
    add("Point value", props.get("point_value"))
    add("Currency", currency)
    add("Tick size", props.get("tick_size"))
    for title, value in (props.get("inputs") or {}).items():
        rows.append([str(title), _on_off(value) if value is not None else ""])
    initial = result.metrics.get("initial_capital") or props.get("initial_capital") \
        or settings.get("initial_capital")
    add("Initial capital", initial)
    add("Order size", props.get("order_size") or _order_size(settings, currency))
    add("Pyramiding", props.get("pyramiding", settings.get("pyramiding")))
    add("Commission", props.get("commission") or _commission(settings, currency))
    slippage = props.get("slippage", settings.get("slippage"))
    add("Slippage", f"{slippage} ticks" if is_number(slippage) else slippage)
    for name, key, setting in (("Margin for long positions", "margin_long", "margin_long"),
                               ("Margin for short positions", "margin_short", "margin_short")):
        margin = props.get(key, settings.get(setting))
        add(name, f"{format_plain(margin)} %" if is_number(margin) else margin)
    for name, key, setting in (
            ("Recalculate after order is filled", "recalculate_after_order_filled",
             "calc_on_order_fills"),
            ("Recalculate on every tick", "recalculate_on_every_tick", "calc_on_every_tick"),
            ("Fill orders on bar close", "fill_orders_on_bar_close", "process_orders_on_close"),
            ("Using bar magnifier", "bar_magnifier", "use_bar_magnifier")):
        add(name, props.get(key, settings.get(setting)))
    return rows


def add_tradingview_sheets(book: Workbook, result: BacktestResult, *, prefix: str = "",
                           tz: tzinfo | None = None) -> list[str]:
    """TradingView's five sheets of one result; returns the sheet names used."""
    currency = _currency(result)
    tz = tz if tz is not None else _result_zone(result)
    names = [sheet_name(prefix, name) for name in SHEETS]
    metric_header = ["", f"All {currency}", "All %", f"Long {currency}", "Long %",
                     f"Short {currency}", "Short %"]
    for plain, name in zip(SHEETS[:3], names[:3], strict=True):
        rows = metric_sheet_rows(result, _SHEET_OF[plain])
        write_sheet(book, name, metric_header, rows, min_width=12)
    initial = result.metrics.get("initial_capital")
    point_value = result.properties.get("point_value")
    rows = trade_rows(result.trades, tz, initial if is_number(initial) else None,
                      float(point_value) if is_number(point_value) else 1.0)
    header = [h.format(cur=currency) for h in TRADE_HEADERS]
    write_sheet(book, names[3], header, rows, _TRADE_FORMATS)
    write_sheet(book, names[4], ["Name", "Value"], properties_rows(result, tz), freeze="A2")
    return names


def _result_zone(result: BacktestResult) -> tzinfo | None:
    name = result.properties.get("timezone")
    if name:
        return zone(str(name))
    for trade in result.trades:
        if trade.entry_time.tzinfo is not None:
            return trade.entry_time.tzinfo
    return None


def sheet_name(prefix: str, name: str) -> str:
    """`T12 Performance`; abbreviated when Excel's 31-character limit would cut it."""
    full = f"{prefix}{name}"
    if len(full) <= MAX_SHEET_NAME:
        return full
    return f"{prefix}{_SHORT_SHEETS.get(name, name)}"[:MAX_SHEET_NAME]


def render_tradingview_xlsx(result: BacktestResult, *, timezone: str | None = None) -> bytes:
    book = Workbook(write_only=True)
    add_tradingview_sheets(book, result, tz=zone(timezone) if timezone else None)
    return _save(book)


def write_tradingview_xlsx(result: BacktestResult, path: str | Path, *,
                           timezone: str | None = None) -> Path:
    """One result as TradingView's 5-sheet export workbook, written atomically.

    Times are written in `timezone` (default: the result's chart timezone); read the file
    back with `read_export(path, timezone=...)` using the same zone.
    """
    return write_bytes_atomically(path, render_tradingview_xlsx(result, timezone=timezone))


# --------------------------------------------------------------------------- report workbook


_FIXED = ("Trial", "Condition", "Worker", "Iteration", "Proposer", "Segment", "Status")


def summary_columns(data: ReportData) -> tuple[list[str], list[str], list[str]]:
    """(headers, input names, metric keys) of the Summary sheet, in column order."""
    inputs = data.input_names()
    metrics = list(KEY_METRICS) + data.extra_metric_keys()
    input_columns = input_headers(inputs, _FIXED)
    headers = [*_FIXED, *input_columns,
               *[column_header(k, data.run.currency) for k in metrics], "Tag", "Reasons",
               "Error"]
    return headers, inputs, metrics


def _cell_input(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return format_plain(value)


def _metric_cell(trial: TrialSummary, key: str) -> Any:
    if key not in trial.metrics:
        return None
    return _value(trial.metrics[key])


def summary_rows(data: ReportData, inputs: Sequence[str],
                 metrics: Sequence[str]) -> list[list[Any]]:
    rows = []
    for t in data.trials:
        rows.append([t.id, t.condition, t.worker, t.iteration, t.proposer, t.segment, t.status,
                     *[_cell_input(t.inputs.get(name)) for name in inputs],
                     *[_metric_cell(t, key) for key in metrics],
                     t.tag, "; ".join(t.reasons), t.error])
    return rows


def _timeline(book: Workbook, data: ReportData) -> None:
    tz = data.zone
    when = f" ({data.run.timezone})"
    metric = data.rank_metric
    header = ["Started" + when, "Finished" + when, "Seconds", "Trial", "Worker", "Condition",
              "Iteration", "Proposer", "Segment", "Status", column_header(metric),
              column_header("max_drawdown_percent"), "Best so far: " + column_header(metric),
              "Tag"]
    order = sorted(data.trials, key=lambda t: (t.started_at is None, t.started_at or
                                               datetime.min.replace(tzinfo=tz), t.id))
    best: dict[str | None, float] = {}
    rows = []
    for t in order:
        value = t.metric(metric)
        running = None
        if t.segment == "in_sample" and t.status == "done" and value is not None:
            best[t.condition] = max(best.get(t.condition, value), value)
        if t.segment == "in_sample":
            running = best.get(t.condition)
        rows.append([naive(t.started_at, tz), naive(t.finished_at, tz), t.seconds, t.id,
                     t.worker, t.condition, t.iteration, t.proposer, t.segment, t.status,
                     _metric_cell(t, metric), _metric_cell(t, "max_drawdown_percent"), running,
                     t.tag])
    write_sheet(book, "Timeline", header, rows,
                {0: "yyyy-mm-dd hh:mm:ss", 1: "yyyy-mm-dd hh:mm:ss", 2: "0.000",
                 10: PERCENT, 11: PERCENT, 12: PERCENT})


def _settings(book: Workbook, data: ReportData) -> None:
    run = data.run
    tz = data.zone
    stamp = "yyyy-mm-dd hh:mm:ss"
    rows: list[list[Any]] = [
        ["run.id", run.id], ["run.strategy_title", run.strategy_title],
        ["run.engine", run.engine], ["run.status", run.status],
        [f"run.created_at ({run.timezone})", _stamp(naive(run.created_at, tz), stamp)],
        [f"run.finished_at ({run.timezone})", _stamp(naive(run.finished_at, tz), stamp)],
        ["run.timezone", run.timezone],
        [f"report.generated_at ({run.timezone})", _stamp(naive(data.generated_at, tz), stamp)],
    ]
    rows += [[key, value] for key, value in flatten_settings(run.settings)]
    write_sheet(book, "Settings", ["Key", "Value"], [r for r in rows if r[1] is not None],
                max_width=80)


def _stamp(moment: datetime | None, fmt: str) -> Any:
    return None if moment is None else Styled(moment, fmt)


def _plain_number(value: Any) -> Any:
    """A statistic cell: whole numbers without decimals, fractions with three."""
    if isinstance(value, bool) or not is_number(value):
        return _cell_input(value)
    return Styled(value, "#,##0" if isinstance(value, int) else "0.000")


def _robustness(book: Workbook, data: ReportData) -> None:
    rows = []
    for key, value in data.robustness.items():
        if isinstance(value, Mapping):
            for sub, item in value.items():
                rows.append([f"{label(key)}: {sub}", _plain_number(item), f"{key}.{sub}"])
        else:
            rows.append([label(key), _plain_number(value), key])
    write_sheet(book, "Robustness", ["Statistic", "Value", "Key"], rows)


def render_xlsx(data: ReportData) -> bytes:
    book = Workbook(write_only=True)
    headers, inputs, metrics = summary_columns(data)
    first_metric = len(_FIXED) + len(inputs)
    formats = {first_metric + i: number_format(k) for i, k in enumerate(metrics)}
    write_sheet(book, "Summary", headers, summary_rows(data, inputs, metrics), formats,
                freeze="B2")
    tz = data.zone
    for trial, result in data.details:
        add_tradingview_sheets(book, result, prefix=f"T{trial.id} ", tz=tz)
    _timeline(book, data)
    if data.robustness:
        _robustness(book, data)
    _settings(book, data)
    return _save(book)


def write_xlsx(data: ReportData, path: str | Path) -> Path:
    return write_bytes_atomically(path, render_xlsx(data))


def _save(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
