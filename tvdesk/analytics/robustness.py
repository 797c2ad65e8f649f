"""Robustness checks of a chosen result: walk-forward, parameter stability, Monte Carlo.

Each answers "would this have held up?" in another way (docs/analytics.md):

- `walk_forward`: choose the best trial on one window, trade it on the next, stitch the
  out-of-sample windows (Pardo, "The Evaluation and Optimization of Trading Strategies", 2008).
  The stitched out-of-sample t-statistic is the number to judge by; walk-forward efficiency
  is reported for information only (it separates losers less well).
- `parameter_stability`: a peak that collapses one input step away is a curve fit, a plateau
  is robust.
- `monte_carlo_drawdown`: the drawdown the same trades could have produced in another order.

This module is also the one import point of the robustness family: it re-exports the
overfitting statistics (`tvdesk.analytics.overfitting`) and `risk_metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from tvdesk.analytics.overfitting import (
    EULER_GAMMA,
    MAX_SPLITS,
    ZERO_STD,
    ArrayLike,
    DSRResult,
    Metric,
    PBOResult,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    min_backtest_length,
    min_track_record_length,
    moments,
    pbo_cscv,
    probabilistic_sharpe_ratio,
    sharpe,
)
from tvdesk.analytics.risk_metrics import RISK_METRIC_DEFINITIONS, risk_metrics

__all__ = [
    "EULER_GAMMA",
    "MAX_SPLITS",
    "RISK_METRIC_DEFINITIONS",
    "ZERO_STD",
    "DSRResult",
    "MonteCarloResult",
    "PBOResult",
    "StabilityResult",
    "WalkForwardResult",
    "WalkForwardWindow",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "min_backtest_length",
    "min_track_record_length",
    "moments",
    "monte_carlo_drawdown",
    "parameter_stability",
    "pbo_cscv",
    "probabilistic_sharpe_ratio",
    "risk_metrics",
    "sharpe",
    "walk_forward",
]

# --------------------------------------------------------------------------- walk-forward


class WalkForwardWindow(NamedTuple):
    """One walk-forward step; bounds are index labels of the frame, both ends inclusive."""

    is_start: Any
    is_end: Any
    oos_start: Any
    oos_end: Any
    chosen_trial: Any
    """Column label of the trial chosen in sample."""


@dataclass(frozen=True, slots=True, eq=False)
class WalkForwardResult:
    oos_returns: pd.Series
    """The chosen trials' out-of-sample returns, stitched in time order."""
    oos_sharpe: float
    """Per-period Sharpe of `oos_returns` (NaN if undefined)."""
    oos_t_stat: float
    """mean / (std / sqrt(n)) of `oos_returns`: the number to judge walk-forward by."""
    efficiency: float
    """Mean OOS return / mean IS return of the chosen trials (information only; NaN when the
    in-sample mean is not positive). Both are per-period arithmetic means, so this equals the
    ratio of the annualised returns: the annualisation factor cancels."""
    is_sharpe: float
    """Mean over windows of the chosen trial's in-sample Sharpe (for OOS/IS Sharpe rules)."""
    windows: list[WalkForwardWindow]


def walk_forward(
    returns_by_trial: pd.DataFrame,
    *,
    n_windows: int = 5,
    anchored: bool = False,
    select: Metric = sharpe,
) -> WalkForwardResult:
    """Walk-forward analysis over per-period returns of every trial.

    `returns_by_trial` has one row per period (index: dates, sorted here) and one column per
    trial. Its rows are cut into `n_windows` + 1 consecutive segments of near-equal length
    (`numpy.array_split`: no row is dropped, earlier segments take the extra rows). Window k
    (1..n_windows) chooses, in sample, the trial with the highest `select` (first column on
    ties; NaN counts as worst) on segment k − 1 (rolling) or segments 0..k − 1 (anchored), then
    takes that trial's returns on segment k. Missing returns (NaN) count as 0: a period a trial
    has no bar is a period its equity did not move. ValueError when there are no trials,
    `n_windows` < 1, or fewer than 2 rows per segment.
    """
    if n_windows < 1:
        raise ValueError(f"n_windows must be >= 1, got {n_windows}")
    frame = returns_by_trial.sort_index().astype(float).fillna(0.0)
    n_rows, n_trials = frame.shape
    if n_trials < 1:
        raise ValueError("walk_forward needs at least one trial (column)")
    if n_rows < 2 * (n_windows + 1):
        raise ValueError(f"{n_rows} periods are too few for {n_windows} windows "
                         f"(need at least {2 * (n_windows + 1)})")
    values = frame.to_numpy()
    labels = frame.index
    segments = np.array_split(np.arange(n_rows), n_windows + 1)
    parts: list[pd.Series] = []
    windows: list[WalkForwardWindow] = []
    is_means: list[float] = []
    is_sharpes: list[float] = []
    for k in range(1, n_windows + 1):
        in_sample = np.concatenate(segments[:k]) if anchored else segments[k - 1]
        out_sample = segments[k]
        scores = np.array([select(values[in_sample, j]) for j in range(n_trials)], dtype=float)
        chosen = int(np.argmax(np.where(np.isnan(scores), -np.inf, scores)))
        parts.append(frame.iloc[out_sample, chosen])
        is_means.append(float(values[in_sample, chosen].mean()))
        is_sharpes.append(sharpe(values[in_sample, chosen]))
        windows.append(WalkForwardWindow(labels[in_sample[0]], labels[in_sample[-1]],
                                         labels[out_sample[0]], labels[out_sample[-1]],
                                         frame.columns[chosen]))
    stitched = pd.concat(parts).rename("oos_returns")
    oos = stitched.to_numpy()
    oos_sharpe = sharpe(oos)
    is_mean = float(np.mean(is_means))
    defined_is = [s for s in is_sharpes if math.isfinite(s)]
    return WalkForwardResult(
        oos_returns=stitched,
        oos_sharpe=oos_sharpe,
        oos_t_stat=oos_sharpe * math.sqrt(len(oos)),
        efficiency=float(oos.mean()) / is_mean if is_mean > 0 else math.nan,
        is_sharpe=float(np.mean(defined_is)) if defined_is else math.nan,
        windows=windows,
    )


# --------------------------------------------------------------------------- stability


@dataclass(frozen=True, slots=True)
class StabilityResult:
    center_value: float
    """Metric of the chosen (center) inputs."""
    neighbour_median: float | None
    """Median metric of the neighbours; None without neighbours."""
    ratio: float | None
    """neighbour_median / center_value; None when center ≤ 0 or there are no neighbours.
    Below about 0.5 the chosen inputs are an isolated peak."""
    neighbours: list[tuple[dict[str, Any], float]]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def _same(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def _within_step(a: Any, b: Any, step: float | None) -> bool:
    if _is_number(a) and _is_number(b) and step is not None and step > 0:
        return abs(float(a) - float(b)) <= step * (1.0 + 1e-9)
    return _same(a, b)


def parameter_stability(
    center_inputs: Mapping[str, Any],
    trials: Sequence[tuple[Mapping[str, Any], float]],
    steps: Mapping[str, float],
) -> StabilityResult:
    """How the metric holds up one input step away from the chosen inputs.

    A neighbour is a trial (other than the center) whose every numeric input with a step in
    `steps` is within one step of the center's (diagonals included) and whose every other
    input (categorical, bool, or numeric without a step) equals the center's; a trial lacking
    or adding an input is no neighbour. Neighbours with a non-finite metric are left out. The
    center's metric is the first trial whose inputs equal `center_inputs` (ValueError if none).
    """
    keys = set(center_inputs)

    def is_center(inputs: Mapping[str, Any]) -> bool:
        return set(inputs) == keys and all(_same(inputs[k], center_inputs[k]) for k in keys)

    center_value: float | None = None
    neighbours: list[tuple[dict[str, Any], float]] = []
    for inputs, value in trials:
        if is_center(inputs):
            if center_value is None:
                center_value = float(value)
            continue
        if set(inputs) != keys or value is None or not math.isfinite(value):
            continue
        if all(_within_step(inputs[k], center_inputs[k], steps.get(k)) for k in keys):
            neighbours.append((dict(inputs), float(value)))
    if center_value is None:
        raise ValueError("no trial has the center inputs")
    median = float(np.median([v for _, v in neighbours])) if neighbours else None
    ratio = (median / center_value
             if median is not None and math.isfinite(center_value) and center_value > 0
             else None)
    return StabilityResult(center_value, median, ratio, neighbours)


# --------------------------------------------------------------------------- Monte Carlo


@dataclass(frozen=True, slots=True)
class MonteCarloResult:
    p_drawdown_percent: float
    """The `percentile` of the paths' max drawdown, percent of the running peak."""
    p_drawdown: float
    """The `percentile` of the paths' max drawdown in money (percentile taken on its own)."""
    median_drawdown_percent: float


def monte_carlo_drawdown(
    trade_profits: ArrayLike,
    initial_capital: float,
    *,
    n: int = 2000,
    seed: int = 0,
    percentile: float = 95,
) -> MonteCarloResult:
    """Max-drawdown distribution over `n` random orders of the same trades.

    The realised order is one draw of many; reshuffling shows how deep the drawdown could have
    been with the same trades (the trade P&Ls are kept, only their order changes, so this
    assumes trades are independent). Each path starts at `initial_capital`, adds profits in the
    shuffled order, and its drawdown is peak-relative: max((peak − equity) / peak) × 100 on
    closed-trade equity. Percentiles interpolate linearly (numpy's default). The same seed and
    input give the same result. No trades: all zeros.
    """
    profits = np.asarray(trade_profits, dtype=float).ravel()
    if not initial_capital > 0:
        raise ValueError(f"initial_capital must be positive, got {initial_capital}")
    if not np.isfinite(profits).all():
        raise ValueError("trade profits must be finite")
    if n < 1 or not 0 <= percentile <= 100:
        raise ValueError(f"need n >= 1 and 0 <= percentile <= 100, got {n}, {percentile}")
    if profits.size == 0:
        return MonteCarloResult(0.0, 0.0, 0.0)
    rng = np.random.default_rng(seed)
    dd_percent, dd_money = np.empty(n), np.empty(n)
    chunk = max(1, 1_000_000 // profits.size)
    for start in range(0, n, chunk):
        count = min(chunk, n - start)
        paths = rng.permuted(np.tile(profits, (count, 1)), axis=1)
        equity = np.concatenate(
            (np.full((count, 1), float(initial_capital)),
             initial_capital + np.cumsum(paths, axis=1)), axis=1)
        peak = np.maximum.accumulate(equity, axis=1)  # >= initial capital > 0
        drawdown = peak - equity
        dd_money[start:start + count] = drawdown.max(axis=1)
        dd_percent[start:start + count] = (drawdown / peak).max(axis=1) * 100.0
    return MonteCarloResult(
        p_drawdown_percent=float(np.percentile(dd_percent, percentile)),
        p_drawdown=float(np.percentile(dd_money, percentile)),
        median_drawdown_percent=float(np.median(dd_percent)),
    )
