"""TradingView's strategy-report metrics, computed from trades and a bar-by-bar equity curve.

`compute_metrics` returns every key of `tvdesk.metric_catalog` (with `_long`/`_short` and
`_percent` variants where the catalog asks for them). Undefined values are None, never NaN.
Where TradingView's help is silent the rule below was chosen (and is what the tests pin):

Trades
- Only closed trades count, except `open_pl` (sum of open trades' profit) and
  `total_open_trades`. `commission_paid` sums the commission of closed trades only.
- Money percentages (net/gross profit, gross loss, open P&L, buy & hold) are % of initial
  capital; so is `return_on_initial_capital`. Losses are positive magnitudes.
- `avg_*_percent` is the mean of the trades' own `profit_percent` (All, Long and Short alike);
  `largest_*_percent` is the `profit_percent` of the largest trade (first one on ties).
- Even trades have profit == 0. `avg_bars_*` is the mean of `exit_bar - entry_bar`, rounded
  half up to a whole bar (TradingView shows whole bars).
- `max_contracts_held` is the largest absolute net position, from a sweep where a trade holds
  its qty on bars [entry_bar, exit_bar) (an exit and an entry on the same bar do not overlap;
  a trade opened and closed on one bar holds its qty on that bar only).

Equity (only bars from `first_bar` on; earlier bars merely warmed indicators up)
- Intrabar drawdown, as TradingView (and PyneCore, measured against it) does: the peak is the
  high-water mark of *realised* equity (initial capital + closed trades' profit booked up to
  and including the bar; open trades' entry fees are not deducted), so open paper profit
  never lifts it; the trough is `equity_low`. Run-up mirrors it: the realised low-water mark
  up to `equity_high`. `equity_low`/`equity_high` must be the extremes of the position held
  at the bar's close on top of the bar's realised equity (the local engine's recorder, and
  PyneCore, mark them so: fills happen at the bar's open, before its path). Percent is each
  excursion over its higher end (the peak, resp. the top reached), maximised on its own, so
  it can come from another bar than the money maximum. `max_drawdown_of_initial_capital` /
  `max_runup_of_initial_capital` are the money maxima over initial capital.
- Close-to-close variants use bar-close `equity` only, starting from the initial capital.
- Buy & hold buys at the close of `first_bar` (the curve has no opens) and sells at the
  last close.
- CAGR spans from the open of `first_bar` to the close of the last bar (last open + the
  median bar spacing) and uses the last bar's equity (open P&L included). It is None ("not
  meaningful") when that span is under `MIN_ANNUALISED_DAYS` (30 days): compounding a few
  hours' or days' return over a year says nothing (a 1 % hour would read as 10^37 %) and
  overflows floats. It is computed in log space and is None rather than infinite when the
  result is beyond a float.
- Sharpe/Sortino: calendar-month periods in `timezone` when the window spans >= 3 months,
  else calendar-day periods (days that have bars) when it spans >= 3 days, else None. A
  period's return is its last bar's close equity over the previous period's (the first
  period starts at initial capital); partial first/last periods count. The risk-free rate is
  `risk_free_rate`/100/12 per month or /365 per day. Sharpe = (mean R - rfr) / std(R) with
  ddof=`SHARPE_DDOF`; Sortino = (mean R - rfr) / sqrt(sum(min(0, R - rfr)^2) / N). Not
  annualised (only the risk-free rate is brought down to the period), so the 3-day minimum
  is their only span rule; None with < 2 periods or a zero deviation.

Extreme but finite inputs (equity of 1e300, a zero-equity period) never raise: numpy's
overflow and division warnings are silenced while computing and any non-finite result is None.

Derived: return_of_max_drawdown = net profit / max drawdown (intrabar); strategy
outperformance = net profit - buy & hold (percent: the difference of the two percents);
net_profit_as_largest_loss = net profit / largest losing trade x 100.
Not computed (None): margin calls per side (only a total is known), account size required
and its return (TradingView's own figures), and the close-to-close averages and durations
of drawdowns and run-ups (`NOT_COMPUTED`). A catalog key added later is None until computed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from tvdesk.metric_catalog import METRICS, Scope, variant_key
from tvdesk.model import EquityCurve, FrozenMap, Metrics, Trade

SHARPE_DDOF = 0
"""Delta degrees of freedom of the Sharpe standard deviation (0: population, as Sortino's /N)."""

MIN_ANNUALISED_DAYS = 30
"""Shortest span (days) over which an annualised figure (CAGR) is reported; shorter: None."""

NOT_COMPUTED = frozenset({
    "margin_calls_long", "margin_calls_short", "account_size_required",
    "return_on_account_size_required", "avg_runup_close_to_close",
    "avg_runup_close_to_close_percent", "avg_drawdown_close_to_close",
    "avg_drawdown_close_to_close_percent", "avg_runup_duration_close_to_close_days",
    "max_runup_duration_close_to_close_days", "avg_drawdown_duration_close_to_close_days",
    "max_drawdown_duration_close_to_close_days",
})
"""Catalog keys this module leaves None (TradingView reports them; we have no exact rule)."""

_DAY_MS = 86_400_000
_YEAR_MS = 365.25 * _DAY_MS
_MAX_LOG_GROWTH = math.log(sys.float_info.max / 100.0)  # beyond: the percent would be inf
_SCOPES: tuple[Scope, ...] = ("all", "long", "short")
_T = TypeVar("_T")


def compute_metrics(
    trades: Sequence[Trade],
    equity: EquityCurve,
    *,
    initial_capital: float,
    risk_free_rate: float = 2.0,
    timezone: str = "UTC",
    first_bar: int = 0,
    margin_calls: int = 0,
) -> Metrics:
    """TradingView's report metrics for `trades` and the bar-by-bar `equity` curve.

    Trades need `entry_bar` (and closed ones `exit_bar` and `profit`), indexes into `equity`.
    See the module docstring for every definition. Raises ValueError on inconsistent input.
    """
    check_inputs(trades, equity, initial_capital, first_bar)

    values: dict[str, Any] = {"initial_capital": float(initial_capital)}
    # Extreme equity may overflow to inf/NaN in numpy: that is "undefined" (None, by _clean),
    # not a warning a caller (or a test run with warnings as errors) trips over.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for scope in _SCOPES:
            chosen = [t for t in trades if scope == "all" or t.side == scope]
            for (key, percent), value in _trade_metrics(chosen, initial_capital).items():
                values[variant_key(key, scope, percent)] = value
        values["margin_calls"] = int(margin_calls)
        values.update(_equity_metrics(trades, equity, initial_capital, first_bar))
        values.update(_sharpe_sortino(equity, initial_capital, risk_free_rate, timezone,
                                      first_bar))
        values.update(_derived(values))
    return FrozenMap({key: _clean(values.get(key)) for key in _catalog_keys()})


def _catalog_keys() -> list[str]:
    return [
        variant_key(m.key, scope, percent)
        for m in METRICS
        for scope in (_SCOPES if m.by_side else ("all",))
        for percent in ((False, True) if m.has_percent else (False,))
    ]


def _derived(v: dict[str, Any]) -> dict[str, Any]:
    """Ratios of metrics already computed; None where a divisor is missing or zero."""

    def ratio(a: float | None, b: float | None, scale: float = 1.0) -> float | None:
        return None if a is None or not b else a / b * scale

    out = {
        "max_runup_of_initial_capital": ratio(v.get("max_runup"), v["initial_capital"], 100.0),
        "max_drawdown_of_initial_capital": ratio(
            v.get("max_drawdown"), v["initial_capital"], 100.0),
        "return_of_max_drawdown": ratio(v["net_profit"], v.get("max_drawdown")),
    }
    if v.get("buy_hold_return") is not None:
        out["strategy_outperformance"] = v["net_profit"] - v["buy_hold_return"]
        out["strategy_outperformance_percent"] = (
            v["net_profit_percent"] - v["buy_hold_return_percent"])
    for scope in _SCOPES:
        out[variant_key("net_profit_as_largest_loss", scope)] = ratio(
            v[variant_key("net_profit", scope)], v[variant_key("largest_losing_trade", scope)],
            100.0)
    return out


# --------------------------------------------------------------------------- trades


def check_inputs(trades: Sequence[Trade], equity: EquityCurve, initial_capital: float,
                 first_bar: int) -> int:
    """Validate what every metric function receives; returns the number of bars."""
    if initial_capital <= 0:
        raise ValueError(f"initial_capital must be positive, got {initial_capital}")
    n_bars = len(equity)
    if not 0 <= first_bar <= max(n_bars - 1, 0):
        raise ValueError(f"first_bar {first_bar} is outside the equity curve ({n_bars} bars)")
    _check_trades(trades, n_bars)
    return n_bars


def _check_trades(trades: Sequence[Trade], n_bars: int) -> None:
    for t in trades:
        bars = [t.entry_bar] if t.open else [t.entry_bar, t.exit_bar]
        known = [b for b in bars if b is not None]
        if (len(known) < len(bars) or any(not 0 <= b < n_bars for b in known)
                or known != sorted(known)):
            raise ValueError(f"trade #{t.number}: bar indexes {bars} not in 0..{n_bars - 1}"
                             " or exit before entry")
        if not t.open and t.profit is None:
            raise ValueError(f"closed trade #{t.number} has no profit")


def _checked(value: _T | None) -> _T:
    """A trade field `check_inputs` has verified is set: bar indexes, closed trades' profit."""
    assert value is not None
    return value


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _round_bars(values: Sequence[int] | np.ndarray) -> int | None:
    return math.floor(float(np.mean(values)) + 0.5) if len(values) else None


def _trade_metrics(trades: Sequence[Trade], initial: float) -> dict[tuple[str, bool], Any]:
    """Trade-list metrics of one scope, keyed by (catalog key, percent variant)."""
    closed = [t for t in trades if not t.open]
    still_open = [t for t in trades if t.open]
    profit = np.array([t.profit for t in closed], dtype=float)
    percent = np.array([np.nan if t.profit_percent is None else t.profit_percent
                        for t in closed], dtype=float)
    bars = np.array([_checked(t.exit_bar) - _checked(t.entry_bar) for t in closed], dtype=int)
    win, loss = profit > 0, profit < 0

    def pct_mean(mask: np.ndarray, magnitude: bool = False) -> float | None:
        known = percent[mask & ~np.isnan(percent)]
        return _mean(np.abs(known) if magnitude else known)

    def largest(mask: np.ndarray, pick: Any) -> tuple[float | None, float | None]:
        if not mask.any():
            return None, None
        i = int(np.flatnonzero(mask)[pick(profit[mask])])
        return abs(float(profit[i])), None if np.isnan(percent[i]) else abs(float(percent[i]))

    net, gross_profit = float(profit.sum()), float(profit[win].sum())
    gross_loss = float(-profit[loss].sum())
    open_pl = float(sum(t.profit or 0.0 for t in still_open))
    n, n_win, n_loss = len(closed), int(win.sum()), int(loss.sum())
    avg_win = gross_profit / n_win if n_win else None
    avg_loss = gross_loss / n_loss if n_loss else None
    big_win, big_win_pct = largest(win, np.argmax)
    big_loss, big_loss_pct = largest(loss, np.argmin)
    of_initial = 100.0 / initial
    return {
        ("open_pl", False): open_pl,
        ("open_pl", True): open_pl * of_initial,
        ("net_profit", False): net,
        ("net_profit", True): net * of_initial,
        ("gross_profit", False): gross_profit,
        ("gross_profit", True): gross_profit * of_initial,
        ("gross_loss", False): gross_loss,
        ("gross_loss", True): gross_loss * of_initial,
        ("commission_paid", False): float(sum(t.commission or 0.0 for t in closed)),
        ("max_contracts_held", False): _max_contracts(trades),
        ("return_on_initial_capital", False): net * of_initial,
        ("total_open_trades", False): len(still_open),
        ("total_trades", False): n,
        ("winning_trades", False): n_win,
        ("losing_trades", False): n_loss,
        ("even_trades", False): n - n_win - n_loss,
        ("percent_profitable", False): n_win / n * 100.0 if n else None,
        ("avg_trade", False): net / n if n else None,
        ("avg_trade", True): pct_mean(np.ones(n, dtype=bool)),
        ("avg_winning_trade", False): avg_win,
        ("avg_winning_trade", True): pct_mean(win),
        ("avg_losing_trade", False): avg_loss,
        ("avg_losing_trade", True): pct_mean(loss, magnitude=True),
        ("ratio_avg_win_loss", False): (
            avg_win / avg_loss if avg_win is not None and avg_loss is not None else None
        ),
        ("largest_winning_trade", False): big_win,
        ("largest_winning_trade", True): big_win_pct,
        ("largest_losing_trade", False): big_loss,
        ("largest_losing_trade", True): big_loss_pct,
        ("avg_bars_in_trades", False): _round_bars(bars),
        ("avg_bars_in_winning_trades", False): _round_bars(bars[win]),
        ("avg_bars_in_losing_trades", False): _round_bars(bars[loss]),
        ("profit_factor", False): gross_profit / gross_loss if gross_loss > 0 else None,
    }


def _max_contracts(trades: Sequence[Trade]) -> float:
    """Largest |net position|: qty held on bars [entry_bar, exit_bar), same-bar trades on one."""
    if not trades:
        return 0.0
    end = max(max(_checked(t.entry_bar), t.exit_bar or 0) for t in trades) + 2
    spans, instant = np.zeros(end + 1), np.zeros(end + 1)
    for t in trades:
        qty = abs(t.qty) if t.side == "long" else -abs(t.qty)
        start, stop = _checked(t.entry_bar), end if t.open else _checked(t.exit_bar)
        if stop > start:
            spans[start] += qty
            spans[stop] -= qty
        else:
            instant[start] += qty
    return float(np.abs(np.cumsum(spans) + instant).max())


# --------------------------------------------------------------------------- equity


def _max_percent(excursion: np.ndarray, base: np.ndarray) -> float | None:
    ok = base > 0
    return float((excursion[ok] / base[ok]).max() * 100.0) if ok.any() else None


def _equity_metrics(
    trades: Sequence[Trade], curve: EquityCurve, initial: float, first: int
) -> dict[str, Any]:
    n = len(curve)
    if n == 0:
        return {}  # no bars: every equity metric is undefined
    booked = np.zeros(n)
    for t in trades:
        if not t.open:
            booked[_checked(t.exit_bar)] += _checked(t.profit)
    realised = np.concatenate(([initial], initial + np.cumsum(booked)[first:]))
    low = np.asarray(curve.equity_low[first:], dtype=float)
    high = np.asarray(curve.equity_high[first:], dtype=float)
    closes = np.concatenate(([initial], np.asarray(curve.equity[first:], dtype=float)))

    peak = np.maximum.accumulate(realised)[1:]
    drawdown = np.maximum(peak - low, 0.0)
    trough = np.minimum.accumulate(realised)[1:]
    runup = np.maximum(high - trough, 0.0)
    cc_peak = np.maximum.accumulate(closes)
    cc_drawdown = cc_peak - closes
    cc_runup = closes - np.minimum.accumulate(closes)

    price = np.asarray(curve.close, dtype=float)
    bh_percent = (price[-1] / price[first] - 1.0) * 100.0 if price[first] > 0 else None
    return {
        "max_drawdown": float(drawdown.max()),
        "max_drawdown_percent": _max_percent(drawdown, peak),
        "max_drawdown_close_to_close": float(cc_drawdown.max()),
        "max_drawdown_close_to_close_percent": _max_percent(cc_drawdown, cc_peak),
        "max_runup": float(runup.max()),
        "max_runup_percent": _max_percent(runup, high),
        "max_runup_close_to_close": float(cc_runup.max()),
        "max_runup_close_to_close_percent": _max_percent(cc_runup, closes),
        "buy_hold_return": None if bh_percent is None else bh_percent / 100.0 * initial,
        "buy_hold_return_percent": bh_percent,
        "annualized_return": _cagr(curve, initial, first),
    }


def _cagr(curve: EquityCurve, initial: float, first: int) -> float | None:
    """Compound annual growth in %, or None where it would not mean anything.

    None under `MIN_ANNUALISED_DAYS` of span (a short window raised to the power of a year
    is noise, and overflowed: 4-second bars gave an exponent of ~26,000), for a final equity
    that is not positive, and when the growth is beyond a float. Computed as
    expm1(log(final / initial) / years), which cannot raise.
    """
    times = np.asarray(curve.times[first:], dtype=np.int64)
    final = float(curve.equity[-1]) if len(curve) else math.nan
    if len(times) < 2 or not final > 0 or not math.isfinite(final):
        return None
    span = float(times[-1] - times[0] + np.median(np.diff(times)))
    if span < MIN_ANNUALISED_DAYS * _DAY_MS:
        return None
    log_growth = (math.log(final) - math.log(initial)) * (_YEAR_MS / span)
    if log_growth > _MAX_LOG_GROWTH:
        return None
    return math.expm1(log_growth) * 100.0


def _sharpe_sortino(
    curve: EquityCurve, initial: float, risk_free_rate: float, timezone: str, first: int
) -> dict[str, float | None]:
    undefined: dict[str, float | None] = {"sharpe_ratio": None, "sortino_ratio": None}
    if len(curve) - first < 2:
        return undefined
    stamps = pd.to_datetime(np.asarray(curve.times[first:], dtype=np.int64), unit="ms", utc=True)
    stamps = stamps.tz_convert(timezone)
    if stamps[-1] >= stamps[0] + pd.DateOffset(months=3):
        periods, per_year = stamps.year * 12 + stamps.month, 12
    elif stamps[-1] - stamps[0] >= pd.Timedelta(days=3):
        periods, per_year = (stamps.year * 12 + stamps.month) * 31 + stamps.day, 365
    else:
        return undefined
    keys = np.asarray(periods)
    last_bars = np.flatnonzero(np.append(keys[1:] != keys[:-1], True))
    ends = np.asarray(curve.equity[first:], dtype=float)[last_bars]
    returns = ends / np.concatenate(([initial], ends[:-1])) - 1.0
    if len(returns) < 2:
        return undefined
    rfr = risk_free_rate / 100.0 / per_year
    excess = float(returns.mean()) - rfr
    std = float(returns.std(ddof=SHARPE_DDOF))
    downside = math.sqrt(float(np.mean(np.minimum(returns - rfr, 0.0) ** 2)))
    return {
        "sharpe_ratio": excess / std if std > 1e-12 else None,
        "sortino_ratio": excess / downside if downside > 1e-12 else None,
    }


def _clean(value: Any) -> Any:
    """Plain Python numbers; NaN and infinities become None (undefined)."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
