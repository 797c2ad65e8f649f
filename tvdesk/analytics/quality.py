"""GOOD / NORMAL / RISK / OVERFIT: one verdict per result, with its reasons, defined here only.

An optimiser that tries many variants always finds one that looks great in sample, so the
verdict weighs the evidence that a result will survive out of sample (the deflated Sharpe
ratio with the number of trials really made, the probability of backtest overfitting, the
sealed holdout, the stability of the neighbourhood) against its risk (drawdown, Monte Carlo
drawdown, margin calls, one trade carrying the profit). Every threshold is a field of
`QualityRules`, so a user can change it; every tag carries the reasons that produced it.

Precedence when several apply: OVERFIT (the numbers are not real), then RISK (they are real
but dangerous), then GOOD, else NORMAL. The reasons of the other failed checks are kept after
the chosen tag's own, prefixed "also:", so nothing the evidence says is hidden.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Tag = Literal["GOOD", "NORMAL", "RISK", "OVERFIT"]
TAGS: tuple[Tag, ...] = ("GOOD", "NORMAL", "RISK", "OVERFIT")


@dataclass(frozen=True, slots=True)
class QualityRules:
    """The rule table's thresholds (analytics.md); None disables a check."""

    max_drawdown_percent: float | None = None  # from the targets when set
    mc_drawdown_percent: float | None = None  # Monte Carlo 95th pct; default: the target above
    min_trades: int = 30  # fewer: statistics mean little ("insufficient evidence")
    min_days: int = 90  # shorter trading history: likewise
    largest_loss_percent_of_equity: float = 10.0
    largest_win_share_percent: float = 50.0  # one trade making most of the gross profit
    pbo_overfit: float = 0.5
    dsr_overfit: float = 0.5
    psr_significant: float = 0.95
    oos_is_ratio_min: float = 0.3
    neighbour_ratio_min: float = 0.5
    dsr_good: float = 0.95
    pbo_good: float = 0.3
    # Watchlist runs: the share of charts a trial must be profitable on, and how far its
    # objective may spread across them (standard deviation / |mean|).
    charts_profitable_overfit: float = 50.0  # percent; fewer: it works on a few charts only
    charts_profitable_good: float = 75.0
    chart_dispersion_overfit: float = 2.0
    chart_dispersion_good: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityRules:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True, slots=True)
class Evidence:
    """What is known about one result; None where a statistic could not be computed."""

    metrics: Mapping[str, Any]
    targets_met: bool = False
    risk: Mapping[str, Any] = field(default_factory=dict)
    trading_days: int | None = None
    psr: float | None = None  # P(true Sharpe > 0), no deflation
    dsr: float | None = None  # deflated for the number of trials
    n_trials: int | None = None
    pbo: float | None = None  # of the run's selection process
    sharpe_in_sample: float | None = None
    sharpe_out_of_sample: float | None = None  # holdout or stitched walk-forward
    out_of_sample_source: str = "holdout"
    stability_ratio: float | None = None  # neighbours' median / this result
    mc_drawdown_percent: float | None = None
    min_track_record: float | None = None  # periods needed (MinTRL)
    track_periods: int | None = None  # periods observed
    lookahead: bool = False
    charts: int | None = None  # a watchlist trial: how many charts it ran on
    charts_profitable_percent: float | None = None
    chart_dispersion: float | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    tag: Tag
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "reasons": list(self.reasons)}


_LOOKAHEAD = re.compile(r"lookahead\s*=\s*barmerge\.lookahead_on")


def uses_lookahead(pine_source: str) -> bool:
    """`request.security(..., lookahead=barmerge.lookahead_on)` reads the future unless the
    series is offset by `[1]`; any such call whose line has no `[1]` is flagged."""
    for line in pine_source.splitlines():
        code = line.split("//", 1)[0]
        if _LOOKAHEAD.search(code) and "[1]" not in code:
            return True
    return False


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def _overfit_reasons(e: Evidence, r: QualityRules) -> list[str]:
    out = []
    if e.pbo is not None and e.pbo > r.pbo_overfit:
        out.append(f"probability of backtest overfitting {e.pbo:.2f} > {r.pbo_overfit:g}")
    if (e.dsr is not None and e.psr is not None and e.dsr < r.dsr_overfit
            and e.psr >= r.psr_significant):
        out.append(f"deflated Sharpe {e.dsr:.2f} < {r.dsr_overfit:g} after {e.n_trials} trials "
                   f"although PSR is {e.psr:.2f}: good only because of the search")
    is_sr, oos_sr = e.sharpe_in_sample, e.sharpe_out_of_sample
    if is_sr is not None and oos_sr is not None and is_sr > 0:
        if oos_sr <= 0:
            out.append(f"{e.out_of_sample_source} Sharpe {oos_sr:.3f} ≤ 0 while in-sample "
                       f"Sharpe is {is_sr:.3f}")
        elif oos_sr / is_sr < r.oos_is_ratio_min:
            out.append(f"{e.out_of_sample_source} / in-sample Sharpe {oos_sr / is_sr:.2f} < "
                       f"{r.oos_is_ratio_min:g}")
    if e.stability_ratio is not None and e.stability_ratio < r.neighbour_ratio_min:
        out.append(f"isolated peak: neighbours' median is {e.stability_ratio:.0%} of this "
                   f"result (< {r.neighbour_ratio_min:.0%})")
    if e.lookahead:
        out.append("request.security with lookahead_on and no [1] offset reads future bars")
    out += _cross_chart(e, r.charts_profitable_overfit, r.chart_dispersion_overfit)
    return out


def _cross_chart(e: Evidence, min_share: float, max_dispersion: float) -> list[str]:
    """Inputs that only work on some charts of a watchlist are a curve fit of those charts."""
    out = []
    if e.charts and e.charts > 1 and e.charts_profitable_percent is not None \
            and e.charts_profitable_percent < min_share:
        profitable = round(e.charts * e.charts_profitable_percent / 100)
        out.append(f"profitable on {profitable} of {e.charts} charts "
                   f"({e.charts_profitable_percent:.0f}% < {min_share:g}%)")
    if e.charts and e.charts > 1 and e.chart_dispersion is not None \
            and e.chart_dispersion > max_dispersion:
        out.append(f"objective varies across charts (dispersion {e.chart_dispersion:.2f} > "
                   f"{max_dispersion:g})")
    return out


def _risk_reasons(e: Evidence, r: QualityRules) -> list[str]:
    out = []
    m = e.metrics
    dd = _num(m.get("max_drawdown_percent"))
    if r.max_drawdown_percent is not None and dd is not None and dd > r.max_drawdown_percent:
        out.append(f"max drawdown {dd:.2f}% > {r.max_drawdown_percent:g}%")
    mc_limit = r.mc_drawdown_percent if r.mc_drawdown_percent is not None \
        else r.max_drawdown_percent
    if mc_limit is not None and e.mc_drawdown_percent is not None \
            and e.mc_drawdown_percent > mc_limit:
        out.append(f"Monte Carlo 95th-percentile drawdown {e.mc_drawdown_percent:.2f}% > "
                   f"{mc_limit:g}%")
    calls = _num(m.get("margin_calls"))
    if calls:
        out.append(f"{int(calls)} margin call(s)")
    loss = _num(e.risk.get("largest_loss_percent_of_equity"))
    if loss is not None and loss > r.largest_loss_percent_of_equity:
        out.append(f"largest loss {loss:.1f}% of equity > {r.largest_loss_percent_of_equity:g}%")
    share = _num(e.risk.get("largest_win_share_percent"))
    if share is not None and share > r.largest_win_share_percent:
        out.append(f"one trade made {share:.0f}% of the gross profit "
                   f"(> {r.largest_win_share_percent:g}%)")
    bh = _num(m.get("buy_hold_return_percent"))
    net = _num(m.get("net_profit_percent"))
    if bh is not None and net is not None and dd is not None and net < bh:
        bh_dd = _num(e.risk.get("buy_hold_max_drawdown_percent"))
        if bh_dd is not None and dd > bh_dd:
            out.append(f"worse than buy & hold ({net:.2f}% vs {bh:.2f}%) with a deeper "
                       f"drawdown ({dd:.2f}% vs {bh_dd:.2f}%)")
    return out


def _insufficient(e: Evidence, r: QualityRules) -> list[str]:
    out = []
    trades = _num(e.metrics.get("total_trades"))
    if trades is not None and trades < r.min_trades:
        out.append(f"insufficient evidence: {int(trades)} trades < {r.min_trades}")
    if e.trading_days is not None and e.trading_days < r.min_days:
        out.append(f"insufficient evidence: {e.trading_days} days of history < {r.min_days}")
    if (e.min_track_record is not None and e.track_periods is not None
            and e.track_periods < e.min_track_record):
        if e.min_track_record == float("inf"):  # no record, however long, shows an edge
            out.append("insufficient evidence: the Sharpe ratio does not beat the benchmark, "
                       f"so no track record is long enough ({e.track_periods} periods tested)")
        else:
            out.append(f"insufficient evidence: track record {e.track_periods} periods < "
                       f"minimum {e.min_track_record:.0f}")
    return out


def _good_blockers(e: Evidence, r: QualityRules) -> list[str]:
    """Why the result is not GOOD (empty: it is)."""
    out = []
    if not e.targets_met:
        out.append("targets not met")
    if e.dsr is None:
        out.append("deflated Sharpe unknown")
    elif e.dsr < r.dsr_good:
        out.append(f"deflated Sharpe {e.dsr:.2f} < {r.dsr_good:g}")
    if e.sharpe_out_of_sample is None:
        out.append("no out-of-sample evidence")
    elif e.sharpe_out_of_sample <= 0:
        out.append("out-of-sample not positive")
    if e.pbo is not None and e.pbo > r.pbo_good:
        out.append(f"PBO {e.pbo:.2f} > {r.pbo_good:g}")
    out += _cross_chart(e, r.charts_profitable_good, r.chart_dispersion_good)
    return out


def judge(evidence: Evidence, rules: QualityRules | None = None) -> Verdict:
    r = rules or QualityRules()
    overfit = _overfit_reasons(evidence, r)
    risk = _risk_reasons(evidence, r)
    thin = _insufficient(evidence, r)
    if overfit:
        return Verdict("OVERFIT", tuple(overfit + [f"also: {x}" for x in risk + thin]))
    if risk:
        return Verdict("RISK", tuple(risk + [f"also: {x}" for x in thin]))
    blockers = _good_blockers(evidence, r)
    if not blockers and not thin:
        dsr = f"deflated Sharpe {evidence.dsr:.2f}" if evidence.dsr is not None else ""
        return Verdict("GOOD", tuple(x for x in (
            "targets met", dsr, f"{evidence.out_of_sample_source} positive",
            f"PBO {evidence.pbo:.2f}" if evidence.pbo is not None else "") if x))
    return Verdict("NORMAL", tuple(thin + blockers))
