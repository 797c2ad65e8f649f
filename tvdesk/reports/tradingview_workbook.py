"""TradingView-shaped workbooks: one result as TradingView's own five-sheet XLSX export.

`write_tradingview_xlsx(result, path)` writes one result as a standalone workbook with
TradingView's plain sheet names, which `tvdesk.exports.read_export` reads back with the same
trades and metrics. `add_tradingview_sheets` adds the same five sheets, prefixed with a trial
id, to another workbook (the run's workbook, `tvdesk.reports.run_workbook`, shows each trial in
full that way). The layout is TradingView's early-2026 English export: metric sheets with
`All / Long / Short` × currency / % columns, two rows per trade (exit row first), dates as real
date cells in the chart's timezone without an offset, booleans as On / Off in Properties.
Undefined metrics are TradingView's "N/A" in the standalone export; the run's workbook asks
for empty cells instead (`undefined=None`), so its number columns stay numeric.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from tvdesk.fileio import write_bytes_atomically
from tvdesk.metric_catalog import METRICS, MetricDef, variant_key
from tvdesk.model import BacktestResult, Trade
from tvdesk.reports.data import zone
from tvdesk.reports.labels import format_plain, is_number
from tvdesk.reports.xlsx_sheets import (
    DATE_FORMAT,
    MONEY,
    PERCENT,
    Styled,
    metric_value,
    naive,
    workbook_bytes,
    write_sheet,
)

SHEETS = ("Performance", "Trades analysis", "Risk-adjusted performance", "List of trades",
          "Properties")
_SHORT_SHEETS = {"Risk-adjusted performance": "Risk-adjusted", "Trades analysis": "Trades",
                 "List of trades": "List of trades", "Performance": "Performance",
                 "Properties": "Properties"}
METRIC_SHEETS = {"Performance": "performance", "Trades analysis": "trades_analysis",
             "Risk-adjusted performance": "risk_adjusted"}
TRADE_HEADERS = ("Trade #", "Type", "Date and time", "Signal", "Price {cur}", "Size (qty)",
                 "Position size (value)", "Net P&L {cur}", "Net P&L %",
                 "Favorable excursion {cur}", "Favorable excursion %",
                 "Adverse excursion {cur}", "Adverse excursion %", "Cumulative P&L {cur}",
                 "Cumulative P&L %")
MAX_SHEET_NAME = 31
_UNIT_FORMATS = {"money": MONEY, "percent": PERCENT, "count": "#,##0", "ratio": "0.000",
                 "bars": "#,##0", "days": '0.0 "days"'}


def _currency(result: BacktestResult, default: str = "USD") -> str:
    return str(result.properties.get("currency") or default)


def metric_sheet_rows(result: BacktestResult, sheet: str,
                      undefined: str | None = "N/A") -> list[list[Any]]:
    """The rows of one metric sheet (`performance`, `trades_analysis`, `risk_adjusted`).

    Numbers carry the number format of their unit (`Styled`); undefined values are
    `undefined` (TradingView's "N/A", or None for an empty cell).
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
                    value = metric_value(metrics[key], undefined)
                    fmt = PERCENT if column % 2 == 0 else _UNIT_FORMATS[definition.unit]
                    row[column] = Styled(value, fmt) if is_number(value) else value
                    filled = True
        if filled:
            rows.append(row)
    return rows


def metric_columns(currency: str) -> list[str]:
    """The value columns of a metric sheet, after its label column."""
    return [f"All {currency}", "All %", f"Long {currency}", "Long %", f"Short {currency}",
            "Short %"]


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
        exit_cells: list[Any]
        if trade.open:
            exit_cells = [None, "Open", None]
        else:
            exit_cells = [naive(trade.exit_time, tz), trade.exit_signal, trade.exit_price]
        rows.append([trade.number, f"Exit {side}", *exit_cells, *shared])
        rows.append([trade.number, f"Entry {side}", naive(trade.entry_time, tz),
                     trade.entry_signal, trade.entry_price, *shared])
    return rows


def result_trade_rows(result: BacktestResult, tz: tzinfo | None) -> list[list[Any]]:
    """`trade_rows` of a result, with its initial capital and point value."""
    initial = result.metrics.get("initial_capital")
    point_value = result.properties.get("point_value")
    return trade_rows(result.trades, tz, initial if is_number(initial) else None,
                      float(point_value) if is_number(point_value) else 1.0)


TRADE_FORMATS = {2: DATE_FORMAT, 6: MONEY, 7: MONEY, 8: PERCENT, 9: MONEY, 10: PERCENT,
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
    trading_text: object
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
                           tz: tzinfo | None = None,
                           undefined: str | None = "N/A") -> list[str]:
    """TradingView's five sheets of one result; returns the sheet names used. Undefined
    metrics are written as `undefined` (see `metric_sheet_rows`)."""
    currency = _currency(result)
    tz = tz if tz is not None else _result_zone(result)
    names = [sheet_name(prefix, name) for name in SHEETS]
    for plain, name in zip(SHEETS[:3], names[:3], strict=True):
        rows = metric_sheet_rows(result, METRIC_SHEETS[plain], undefined)
        write_sheet(book, name, ["", *metric_columns(currency)], rows, min_width=12,
                    freeze="B2")
    header = [h.format(cur=currency) for h in TRADE_HEADERS]
    write_sheet(book, names[3], header, result_trade_rows(result, tz), TRADE_FORMATS)
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
    return workbook_bytes(book)


def write_tradingview_xlsx(result: BacktestResult, path: str | Path, *,
                           timezone: str | None = None) -> Path:
    """One result as TradingView's 5-sheet export workbook, written atomically.

    Times are written in `timezone` (default: the result's chart timezone); read the file
    back with `read_export(path, timezone=...)` using the same zone.
    """
    return write_bytes_atomically(path, render_tradingview_xlsx(result, timezone=timezone))


__all__ = [
    "METRIC_SHEETS",
    "SHEETS",
    "TRADE_FORMATS",
    "TRADE_HEADERS",
    "add_tradingview_sheets",
    "metric_columns",
    "metric_sheet_rows",
    "properties_rows",
    "render_tradingview_xlsx",
    "result_trade_rows",
    "sheet_name",
    "trade_rows",
    "write_tradingview_xlsx",
]
