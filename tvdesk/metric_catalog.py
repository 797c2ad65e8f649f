"""The metric keys tvdesk uses, with TradingView's label and definition for each.

One table, so the local engine, the export readers, the reports and the GUI name a number the
same way. Keys are snake_case versions of TradingView's English labels. A metric that
TradingView reports for All / Long / Short trades and in money and percent gets the variants
`key`, `key_percent`, `key_long`, `key_long_percent`, `key_short`, `key_short_percent`
(see `variant_key`). Sharpe and Sortino here are TradingView's (monthly, not annualised);
tvdesk's own risk statistics use other keys so the two are never confused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Unit = Literal["money", "percent", "count", "ratio", "bars", "days"]
Scope = Literal["all", "long", "short"]


@dataclass(frozen=True, slots=True)
class MetricDef:
    key: str
    label: str
    unit: Unit
    definition: str
    sheet: Literal["performance", "trades_analysis", "risk_adjusted"]
    has_percent: bool = False
    by_side: bool = True


def variant_key(key: str, scope: Scope = "all", percent: bool = False) -> str:
    """`net_profit` + long + percent -> `net_profit_long_percent`."""
    name = key if scope == "all" else f"{key}_{scope}"
    return f"{name}_percent" if percent else name


_M = MetricDef
METRICS: tuple[MetricDef, ...] = (
    # Performance
    _M("initial_capital", "Initial capital", "money",
       "Capital the strategy starts with (strategy(initial_capital=...)).", "performance",
       by_side=False),
    _M("open_pl", "Open P&L", "money",
       "Unrealised profit or loss of the position still open at the last bar.", "performance",
       has_percent=True),
    _M("net_profit", "Net profit", "money",
       "Sum of closed trades' profit and loss after commission.", "performance",
       has_percent=True),
    _M("gross_profit", "Gross profit", "money",
       "Sum of the profits of winning closed trades.", "performance", has_percent=True),
    _M("gross_loss", "Gross loss", "money",
       "Sum of the losses of losing closed trades, as a positive magnitude.", "performance",
       has_percent=True),
    _M("commission_paid", "Commission paid", "money",
       "Commission on all filled orders of closed trades.", "performance"),
    _M("buy_hold_return", "Buy & hold return", "money",
       "Return of buying at the first trading bar's open with the initial capital and holding "
       "to the last bar's close.", "performance", has_percent=True, by_side=False),
    _M("max_contracts_held", "Max contracts held", "count",
       "Largest position size held at any time.", "performance"),
    _M("max_runup", "Max equity run-up (intrabar)", "money",
       "Largest rise of equity from a trough to a later peak, using intrabar highs and lows.",
       "performance", has_percent=True, by_side=False),
    _M("max_runup_close_to_close", "Max equity run-up (close-to-close)", "money",
       "Largest rise of bar-close equity from a trough to a later peak.", "performance",
       has_percent=True, by_side=False),
    _M("max_drawdown", "Max equity drawdown (intrabar)", "money",
       "Largest fall of equity from a peak to a later trough, using intrabar highs and lows "
       "(TradingView's Key stats drawdown). Percent is of the peak equity.", "performance",
       has_percent=True, by_side=False),
    _M("max_drawdown_close_to_close", "Max equity drawdown (close-to-close)", "money",
       "Largest fall of bar-close equity from a peak to a later trough.", "performance",
       has_percent=True, by_side=False),
    _M("return_on_initial_capital", "Return on initial capital", "percent",
       "Net profit as a percentage of the initial capital.", "performance"),
    _M("annualized_return", "Annualized return (CAGR)", "percent",
       "Compound annual growth rate of equity over the trading range.", "performance",
       by_side=False),
    _M("max_runup_of_initial_capital", "Max equity run-up as % of initial capital (intrabar)",
       "percent", "Max equity run-up (intrabar) as a percentage of the initial capital.",
       "performance", by_side=False),
    _M("max_drawdown_of_initial_capital",
       "Max equity drawdown as % of initial capital (intrabar)", "percent",
       "Max equity drawdown (intrabar) as a percentage of the initial capital.", "performance",
       by_side=False),
    _M("avg_runup_close_to_close", "Avg equity run-up (close-to-close)", "money",
       "Mean rise of bar-close equity over its run-ups.", "performance", has_percent=True,
       by_side=False),
    _M("avg_drawdown_close_to_close", "Avg equity drawdown (close-to-close)", "money",
       "Mean fall of bar-close equity over its drawdowns.", "performance", has_percent=True,
       by_side=False),
    _M("avg_runup_duration_close_to_close_days", "Avg equity run-up duration (close-to-close)",
       "days", "Mean length of the bar-close equity run-ups, in days.", "performance",
       by_side=False),
    _M("max_runup_duration_close_to_close_days", "Max equity run-up duration (close-to-close)",
       "days", "Longest bar-close equity run-up, in days.", "performance", by_side=False),
    _M("avg_drawdown_duration_close_to_close_days",
       "Avg equity drawdown duration (close-to-close)", "days",
       "Mean length of the bar-close equity drawdowns (peak to recovery), in days.",
       "performance", by_side=False),
    _M("max_drawdown_duration_close_to_close_days",
       "Max equity drawdown duration (close-to-close)", "days",
       "Longest bar-close equity drawdown (peak to recovery), in days.", "performance",
       by_side=False),
    _M("return_of_max_drawdown", "Return of max equity drawdown", "ratio",
       "Net profit / max equity drawdown.", "performance", by_side=False),
    _M("account_size_required", "Account size required", "money",
       "Capital needed to survive the max drawdown (TradingView's own figure).", "performance",
       by_side=False),
    _M("return_on_account_size_required", "Return on account size required", "percent",
       "Net profit as a percentage of the account size required.", "performance",
       by_side=False),
    _M("net_profit_as_largest_loss", "Net profit as % of largest loss", "percent",
       "Net profit as a percentage of the largest losing trade.", "performance"),
    _M("strategy_outperformance", "Strategy outperformance", "money",
       "Net profit minus buy & hold return.", "performance", has_percent=True,
       by_side=False),
    # Trades analysis
    _M("total_open_trades", "Total open trades", "count",
       "Trades still open at the last bar.", "trades_analysis"),
    _M("total_trades", "Total trades", "count", "Closed trades.", "trades_analysis"),
    _M("winning_trades", "Winning trades", "count", "Closed trades with profit > 0.",
       "trades_analysis"),
    _M("losing_trades", "Losing trades", "count", "Closed trades with profit < 0.",
       "trades_analysis"),
    _M("even_trades", "Even trades", "count", "Closed trades with profit = 0.",
       "trades_analysis"),
    _M("percent_profitable", "Percent profitable", "percent",
       "Winning trades / closed trades × 100.", "trades_analysis"),
    _M("avg_trade", "Avg P&L", "money",
       "Net profit / closed trades (formerly 'Avg trade' or 'Expected payoff').",
       "trades_analysis", has_percent=True),
    _M("avg_winning_trade", "Avg winning trade", "money",
       "Gross profit / winning trades.", "trades_analysis", has_percent=True),
    _M("avg_losing_trade", "Avg losing trade", "money",
       "Gross loss / losing trades, as a positive magnitude.", "trades_analysis",
       has_percent=True),
    _M("ratio_avg_win_loss", "Ratio avg win / avg loss", "ratio",
       "Avg winning trade / avg losing trade.", "trades_analysis"),
    _M("largest_winning_trade", "Largest winning trade", "money",
       "Largest profit of one closed trade.", "trades_analysis", has_percent=True),
    _M("largest_losing_trade", "Largest losing trade", "money",
       "Largest loss of one closed trade, as a positive magnitude.", "trades_analysis",
       has_percent=True),
    _M("avg_bars_in_trades", "Avg # bars in trades", "bars",
       "Mean bars between entry and exit of closed trades.", "trades_analysis"),
    _M("avg_bars_in_winning_trades", "Avg # bars in winning trades", "bars",
       "Mean bars in winning closed trades.", "trades_analysis"),
    _M("avg_bars_in_losing_trades", "Avg # bars in losing trades", "bars",
       "Mean bars in losing closed trades.", "trades_analysis"),
    # Risk-adjusted performance
    _M("sharpe_ratio", "Sharpe ratio", "ratio",
       "TradingView's Sharpe: (mean monthly return − monthly risk-free rate) / standard "
       "deviation of monthly returns; not annualised.", "risk_adjusted", by_side=False),
    _M("sortino_ratio", "Sortino ratio", "ratio",
       "TradingView's Sortino: (mean monthly return − monthly risk-free rate) / downside "
       "deviation; not annualised.", "risk_adjusted", by_side=False),
    _M("profit_factor", "Profit factor", "ratio", "Gross profit / gross loss.",
       "risk_adjusted"),
    _M("margin_calls", "Margin calls", "count", "Number of margin calls.", "risk_adjusted"),
)

BY_KEY: dict[str, MetricDef] = {m.key: m for m in METRICS}


def describe(key: str) -> MetricDef | None:
    """The definition behind a metric key, including its `_long`/`_short`/`_percent` variants."""
    base = key
    if base.endswith("_percent") and base not in BY_KEY:
        base = base[: -len("_percent")]
    for scope in ("_long", "_short"):
        if base.endswith(scope) and base not in BY_KEY:
            base = base[: -len(scope)]
    return BY_KEY.get(base)
