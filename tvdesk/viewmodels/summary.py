"""Plain-text summaries a trader reads in a terminal: TradingView's names, TradingView's units."""

from __future__ import annotations

from tvdesk.metric_catalog import BY_KEY
from tvdesk.model import BacktestResult

_HEADLINE = (
    ("net_profit", "net_profit_percent"),
    ("gross_profit", "gross_profit_percent"),
    ("gross_loss", "gross_loss_percent"),
    ("max_drawdown", "max_drawdown_percent"),
    ("max_drawdown_close_to_close", "max_drawdown_close_to_close_percent"),
    ("max_runup", "max_runup_percent"),
    ("buy_hold_return", "buy_hold_return_percent"),
    ("commission_paid", None),
    ("open_pl", "open_pl_percent"),
    ("total_trades", None),
    ("total_open_trades", None),
    ("winning_trades", None),
    ("losing_trades", None),
    ("percent_profitable", None),
    ("avg_trade", "avg_trade_percent"),
    ("avg_winning_trade", "avg_winning_trade_percent"),
    ("avg_losing_trade", "avg_losing_trade_percent"),
    ("ratio_avg_win_loss", None),
    ("largest_winning_trade", "largest_winning_trade_percent"),
    ("largest_losing_trade", "largest_losing_trade_percent"),
    ("avg_bars_in_trades", None),
    ("profit_factor", None),
    ("sharpe_ratio", None),
    ("sortino_ratio", None),
    ("margin_calls", None),
)


def _fmt(value: object, unit: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if unit in ("count", "bars") and value.is_integer():
            return f"{int(value)}"
        return f"{value:,.2f}" if unit in ("money", "percent") else f"{value:,.3f}"
    return str(value)


def format_summary(result: BacktestResult, title: str = "") -> str:
    props = result.properties
    currency = props.get("currency", "")
    lines = []
    head = title or props.get("strategy_title") or "Backtest"
    lines.append(f"{head} — {props.get('symbol', '?')} {props.get('timeframe', '')} "
                 f"({result.source})")
    trading = props.get("trading_range")
    if isinstance(trading, (list, tuple)) and len(trading) == 2:
        lines.append(f"Trading range: {trading[0]} → {trading[1]}")
    elif trading:
        lines.append(f"Trading range: {trading}")
    inputs = props.get("inputs") or {}
    if inputs:
        lines.append("Inputs: " + ", ".join(f"{k}={v}" for k, v in inputs.items()))
    lines.append("")
    for key, pct_key in _HEADLINE:
        if key not in result.metrics:
            continue
        meta = BY_KEY.get(key)
        label = meta.label if meta else key
        unit = meta.unit if meta else "ratio"
        text = _fmt(result.metrics.get(key), unit)
        if unit == "money" and text != "n/a":
            text = f"{text} {currency}".rstrip()
        if unit == "percent" and text != "n/a":
            text += " %"
        if pct_key and result.metrics.get(pct_key) is not None:
            text += f" ({result.metrics[pct_key]:,.2f} %)"
        lines.append(f"  {label:<38} {text}")
    for warning in result.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)
