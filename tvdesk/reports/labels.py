"""How a report names and prints a number: TradingView's label, TradingView's unit.

Every metric key is shown with its label from `tvdesk.metric_catalog` ("Net profit", "Max
equity drawdown (intrabar)"); its `_long` / `_short` / `_percent` variants say so in the label.
A key the catalog does not define is one of tvdesk's own statistics (`sharpe_daily`, `pbo`,
`dsr` ...) and its label always ends in "tvdesk", so TradingView's Sharpe ratio (monthly, not
annualised) and tvdesk's never appear under the same name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

from tvdesk.metric_catalog import Scope, describe, variant_key

KEY_METRICS: tuple[str, ...] = (
    "net_profit", "net_profit_percent", "max_drawdown", "max_drawdown_percent", "total_trades",
    "percent_profitable", "profit_factor", "avg_trade", "sharpe_ratio", "sortino_ratio",
)
"""The metrics a one-row-per-trial table shows, in this order."""

HEADLINE_METRICS: tuple[str, ...] = (
    "net_profit", "net_profit_percent", "gross_profit", "gross_loss", "max_drawdown",
    "max_drawdown_percent", "buy_hold_return", "buy_hold_return_percent", "annualized_return",
    "total_trades", "percent_profitable", "profit_factor", "avg_trade", "avg_trade_percent",
    "ratio_avg_win_loss", "largest_losing_trade", "sharpe_ratio", "sortino_ratio",
    "commission_paid", "margin_calls",
)
"""The metrics shown for each best trial in the text and HTML reports."""

# tvdesk's own statistics: run-level robustness figures and per-trial extras. Anything else
# outside the catalog gets "<Humanised key> (tvdesk)".
TVDESK_LABELS: dict[str, str] = {
    "sharpe_daily": "Sharpe ratio (daily, tvdesk)",
    "sharpe_annualized": "Sharpe ratio (annualised, tvdesk)",
    "sortino_daily": "Sortino ratio (daily, tvdesk)",
    "sharpe_in_sample": "Sharpe ratio in sample (daily, tvdesk)",
    "sharpe_out_of_sample": "Sharpe ratio out of sample (daily, tvdesk)",
    "pbo": "Probability of backtest overfitting (PBO, tvdesk)",
    "dsr": "Deflated Sharpe ratio (DSR, tvdesk)",
    "psr": "Probabilistic Sharpe ratio (PSR, tvdesk)",
    "n_trials": "Trials counted for deflation (tvdesk)",
    "trials": "Trials (tvdesk)",
    "min_track_record": "Minimum track record length (periods, tvdesk)",
    "track_periods": "Track record length (periods, tvdesk)",
    "trading_days": "Trading days (tvdesk)",
    "stability_ratio": "Neighbourhood stability ratio (tvdesk)",
    "mc_drawdown_percent": "Monte Carlo 95th-percentile drawdown % (tvdesk)",
    "oos_is_ratio": "Out-of-sample / in-sample Sharpe (tvdesk)",
    "cscv_splits": "CSCV splits (tvdesk)",
    "pbo_splits": "PBO: CSCV splits (tvdesk)",
    "pbo_degradation_slope": "PBO: out-of-sample degradation slope (tvdesk)",
    "walk_forward_oos_sharpe": "Walk-forward out-of-sample Sharpe (daily, tvdesk)",
    "walk_forward_oos_t_stat": "Walk-forward out-of-sample t-statistic (tvdesk)",
    "walk_forward_efficiency": "Walk-forward efficiency (tvdesk)",
    "tags": "Trials by tag (tvdesk)",
    # Per-trial risk statistics (tvdesk.analytics.risk_metrics)
    "calmar": "Calmar ratio (tvdesk)",
    "sqn": "System Quality Number (SQN, tvdesk)",
    "expectancy": "Expectancy per trade (tvdesk)",
    "recovery_factor": "Recovery factor (tvdesk)",
    "cagr_percent": "CAGR % (tvdesk)",
    "exposure_percent": "Exposure % (tvdesk)",
    "largest_loss_percent_of_equity": "Largest loss as % of equity (tvdesk)",
    "largest_win_share_percent": "Largest win as % of gross profit (tvdesk)",
    "buy_hold_max_drawdown_percent": "Buy & hold max drawdown % (tvdesk)",
    # A watchlist trial's cross-chart evidence (tvdesk.optimize.watchlist_trials)
    "charts": "Charts of the watchlist (tvdesk)",
    "charts_profitable_percent": "Charts profitable % (tvdesk)",
    "chart_objective_dispersion": "Objective dispersion over the charts (std / |mean|, tvdesk)",
}
TVDESK_UNITS: dict[str, str] = {"expectancy": "money", "trials": "count", "n_trials": "count",
                                "charts": "count",
                                "pbo_splits": "count", "cscv_splits": "count",
                                "track_periods": "count", "trading_days": "count"}

_PERCENT_TVDESK = ("_percent", "_pct")


def is_catalog_key(key: str) -> bool:
    return describe(key) is not None


def _variant_parts(key: str) -> tuple[str, str, bool]:
    """(base key, scope word, percent) for a catalog key such as `net_profit_long_percent`."""
    definition = describe(key)
    assert definition is not None
    rest = key[len(definition.key):]
    percent = rest.endswith("_percent")
    if percent:
        rest = rest[: -len("_percent")]
    scope = {"_long": "long", "_short": "short"}.get(rest, "")
    return definition.key, scope, percent


def label(key: str) -> str:
    """The name a person reads: TradingView's label, or tvdesk's own marked as such.

    `net_profit` -> "Net profit", `net_profit_long_percent` -> "Net profit, long %",
    `sharpe_daily` -> "Sharpe ratio (daily, tvdesk)".
    """
    definition = describe(key)
    if definition is None:
        if key in TVDESK_LABELS:
            return TVDESK_LABELS[key]
        words = key.replace("_", " ").strip()
        return f"{words[:1].upper()}{words[1:]} (tvdesk)"
    _base, scope, percent = _variant_parts(key)
    text = definition.label
    if scope:
        text += f", {scope}"
    if percent:
        text += " %"
    return text


def unit(key: str) -> str:
    """money / percent / count / ratio / bars / days, or "number" for tvdesk's keys."""
    definition = describe(key)
    if definition is None:
        if key in TVDESK_UNITS:
            return TVDESK_UNITS[key]
        return "percent" if key.endswith(_PERCENT_TVDESK) else "number"
    _base, _scope, percent = _variant_parts(key)
    return "percent" if percent else definition.unit


def column_header(key: str, currency: str = "USD") -> str:
    """A table column name: the label plus the unit a bare number is in ("Net profit USD")."""
    text = label(key)
    kind = unit(key)
    if kind == "money":
        if text.endswith("(tvdesk)"):  # the unit before tvdesk's mark
            return f"{text[: -len('(tvdesk)')].rstrip()} {currency} (tvdesk)"
        return f"{text} {currency}".rstrip()
    if kind == "percent" and "%" not in text and "percent" not in text.casefold():
        return f"{text} %"
    if kind == "days" and "days" not in text:
        return f"{text} (days)"
    return text


def input_headers(inputs: list[str], taken: tuple[str, ...]) -> list[str]:
    """Column headers for inputs beside fixed columns: an input named like a fixed column
    ("Condition", "Trial") gets " (input)" so no two columns share a header."""
    used = set(taken)
    headers = []
    for name in inputs:
        header = name if name not in used else f"{name} (input)"
        used.add(header)
        headers.append(header)
    return headers


def number_format(key: str) -> str:
    """The spreadsheet number format of a metric's column. Percent metrics are already
    percent (5.96 means 5.96 %), so the sign is a literal suffix, not Excel's 0.00%."""
    kind = unit(key)
    if kind == "money":
        return "#,##0.00"
    if kind == "percent":
        return '0.00" %"'
    if kind in ("count",):
        return "#,##0"
    if kind in ("bars", "days"):
        return "#,##0.0"
    return "0.000"


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite(value: Any) -> float | None:
    """A plain finite float, or None for missing, undefined, text and booleans."""
    if not is_number(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def format_value(key: str, value: Any, currency: str = "USD") -> str:
    """A metric as text with its unit: "1,234.56 USD", "5.96 %", "70", "1.017", "N/A"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "N/A"
    if not is_number(value):
        return str(value)
    kind = unit(key)
    number = float(value) + 0.0  # -0.0 prints as 0.00
    if kind == "money":
        return f"{number:,.2f} {currency}".rstrip()
    if kind == "percent":
        return f"{number:,.2f} %"
    if kind == "count":
        return f"{number:,.0f}" if number.is_integer() else f"{number:,.2f}"
    if kind == "bars":
        return f"{number:,.0f}" if number.is_integer() else f"{number:,.1f}"
    if kind == "days":
        return f"{number:,.1f} days"
    if kind == "number" and isinstance(value, int):
        return f"{value:,}"
    return f"{number:,.3f}"


_NEEDS_LOSSES = ("profit_factor", "ratio_avg_win_loss", "avg_losing_trade",
                 "largest_losing_trade", "avg_bars_in_losing_trades")
_NEEDS_WINS = ("avg_winning_trade", "largest_winning_trade", "avg_bars_in_winning_trades")


def undefined_text(key: str, metrics: Mapping[str, Any]) -> str:
    """Why a metric has no finite value, in a trader's words.

    A profit factor with no losing trade is a division by zero: TradingView leaves it empty,
    a formula gives infinity, and neither "N/A" nor "∞" tells the reader the good news. So:
    "no trades" when the side made none, "no losing trades" / "no winning trades" when that
    is what the formula lacks, "N/A" for anything else.
    """
    definition = describe(key)
    if definition is None:
        return "N/A"
    base, scope, _percent = _variant_parts(key)
    side: Scope = "long" if scope == "long" else "short" if scope == "short" else "all"

    def count(name: str) -> Any:
        return metrics.get(variant_key(name, side))

    if count("total_trades") == 0:
        return "no trades"
    if base in _NEEDS_LOSSES and count("losing_trades") == 0:
        return "no losing trades"
    if base in _NEEDS_WINS and count("winning_trades") == 0:
        return "no winning trades"
    return "N/A"


def format_metric(key: str, metrics: Mapping[str, Any], currency: str = "USD") -> str:
    """A trial's metric as text (`format_value`); an undefined one says why
    (`undefined_text`) instead of "N/A" or "∞"."""
    value = metrics.get(key)
    if value is None or (is_number(value) and not math.isfinite(value)):
        return undefined_text(key, metrics)
    return format_value(key, value, currency)


_ENDLESS_TRACK_RECORD = re.compile(r"track record (\d+) periods < minimum (?:∞|inf\b)")
_UNBOUNDED = re.compile(r"\s*(?:<|>|≤|≥|<=|>=)\s*(?:minimum |maximum )?[-+]?(?:∞|inf\b)")


def reason_text(reason: str) -> str:
    """A stored tag reason as a trader should read it.

    The judgement writes the minimum track record length (MinTRL) as "∞" when the trial's
    Sharpe ratio does not beat the benchmark: no record, however long, would show an edge.
    "track record 200 periods < minimum ∞" reads like a typo, so it is said in words; any
    other comparison with an unbounded limit is dropped (it cannot fail).
    """
    text = _ENDLESS_TRACK_RECORD.sub(
        r"the Sharpe ratio does not beat the benchmark, so no track record is long enough to "
        r"show an edge (\1 periods tested)", reason)
    return _UNBOUNDED.sub("", text)


def format_plain(value: Any) -> str:
    """Any value (input, setting, robustness figure) as short text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "On" if value else "Off"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "N/A"
        return f"{value:g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={format_plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(format_plain(v) for v in value)
    return str(value)


def format_robustness(key: str, value: Any) -> str:
    """A run-level statistic: probabilities and ratios with 3 decimals, others plainly."""
    if is_number(value) and not isinstance(value, int):
        return format_value(key, value)
    return format_plain(value)


# --------------------------------------------------------------------------- settings

SECRET_WORDS = ("password", "passwd", "secret", "api_key", "apikey", "token", "totp")
"""Keys containing one of these are never shown (settings hold no secrets by design)."""

MAX_TEXT = 500


def is_secret_key(key: str) -> bool:
    lowered = key.casefold()
    return any(word in lowered for word in SECRET_WORDS)


def flatten_settings(settings: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested settings as (dotted.key, scalar) pairs, secrets dropped, long text shortened.

    Lists of scalars become one comma-separated value; lists of mappings (the strategy's
    inputs) are numbered (`request.strategy.inputs[0].title`). The Pine source is replaced by
    its size: the JSON snapshot keeps it.
    """
    rows: list[tuple[str, Any]] = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if is_secret_key(str(key)):
            continue
        if isinstance(value, Mapping):
            rows.extend(flatten_settings(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            if any(isinstance(v, Mapping) for v in value):
                for index, item in enumerate(value):
                    if isinstance(item, Mapping):
                        rows.extend(flatten_settings(item, f"{name}[{index}]."))
                    else:
                        rows.append((f"{name}[{index}]", _scalar(item)))
            elif value and all(isinstance(v, (list, tuple)) and len(v) == 2
                               and isinstance(v[0], str) for v in value):
                rows.append((name, ", ".join(f"{k}={format_plain(v)}" for k, v in value)))
            else:
                rows.append((name, ", ".join(format_plain(v) for v in value)))
        elif isinstance(value, str) and key == "source" and "\n" in value:
            rows.append((name, f"Pine source, {value.count(chr(10)) + 1} lines "
                               f"(kept in the JSON snapshot)"))
        else:
            rows.append((name, _scalar(value)))
    return rows


def _bounded(limit: Any) -> bool:
    """A limit that can fail: an infinite one ("at most ∞") is no limit and not shown."""
    return not (is_number(limit) and math.isinf(limit))


def _scalar(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return f"{value[:MAX_TEXT]}… ({len(value):,} characters)"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def settings_summary(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The settings a reader needs to understand a run, as (name, text) pairs."""
    request = settings.get("request") or {}
    symbol = request.get("symbol") or {}
    targets = settings.get("targets") or {}
    rows: list[tuple[str, str]] = []

    def add(name: str, value: Any) -> None:
        text = format_plain(value)
        if text:
            rows.append((name, text))

    charts = [c for c in settings.get("charts") or () if isinstance(c, Mapping)]
    if request:
        add("Script", (request.get("strategy") or {}).get("path") or "")
        add("Data", request.get("data_path"))
        if not charts:  # a watchlist's charts each have their own symbol and timeframe
            add("Symbol", symbol.get("ticker"))
            add("Timeframe", symbol.get("timeframe"))
    if charts:
        add("Watchlist", ", ".join(f"{c.get('symbol')} {c.get('timeframe')}" for c in charts))
        add("Aggregate over charts", settings.get("aggregate"))
        if settings.get("search_timeframe"):
            add("Timeframe searched", "yes (one timeframe per trial)")
    if request:
        add("Timezone", symbol.get("timezone"))
        add("From", request.get("date_from"))
        add("To", request.get("date_to"))
        overrides = request.get("inputs") or []
        add("Fixed inputs", ", ".join(f"{k}={format_plain(v)}" for k, v in overrides))
        strategy_settings = request.get("settings") or []
        add("Strategy settings", ", ".join(f"{k}={format_plain(v)}" for k, v in
                                            strategy_settings))
    for key, name in (("engine", "Engine"), ("proposer", "Proposer"), ("sampler", "Sampler"),
                      ("seed", "Seed"), ("process_count", "Processes"),
                      ("max_iterations", "Max iterations"), ("time_budget", "Time budget (s)"),
                      ("conditions", "Conditions"), ("exclude_inputs", "Excluded inputs")):
        if key in settings:
            add(name, settings[key])
    if "holdout" in settings:
        holdout = settings["holdout"]
        add("Holdout", f"{holdout * 100:g} % of the bars" if is_number(holdout) else holdout)
    if targets:
        objective = targets.get("objective")
        if objective:
            direction = "maximise" if targets.get("maximize", True) else "minimise"
            add("Objective", f"{direction} {label(str(objective))}")
        add("Constraints", "; ".join(
            f"{label(str(c[0]))} {c[1]} {format_plain(c[2])}"
            for c in targets.get("constraints") or () if len(c) == 3 and _bounded(c[2])))
    if settings.get("search_ranges"):
        add("Search ranges", "; ".join(f"{k}: {format_plain(v)}"
                                       for k, v in settings["search_ranges"].items()))
    if settings.get("proposer") in ("llm", "both"):
        llm = settings.get("llm") or {}
        add("LLM models", llm.get("models"))
    return [(name, text) for name, text in rows if not is_secret_key(name)]
