"""Overfitting statistics: how likely the best result of a search is to be luck.

An optimiser that tries many variants always finds one that looks good in sample. These
statistics put a number on that (see docs/analytics.md):

- `sharpe`: the per-period Sharpe ratio every other statistic here is built on.
- `probabilistic_sharpe_ratio` (PSR) and `min_track_record_length` (MinTRL): Bailey & López de
  Prado (2012), "The Sharpe Ratio Efficient Frontier", Journal of Risk 15(2).
- `expected_max_sharpe` and `deflated_sharpe_ratio` (DSR): Bailey & López de Prado (2014), "The
  Deflated Sharpe Ratio", Journal of Portfolio Management 40(5).
- `min_backtest_length` (MinBTL): Bailey, Borwein, López de Prado & Zhu (2014),
  "Pseudo-Mathematics and Financial Charlatanism", Notices of the AMS 61(5).
- `pbo_cscv` (probability of backtest overfitting by combinatorially symmetric
  cross-validation): Bailey, Borwein, López de Prado & Zhu (2015/2017), "The Probability of
  Backtest Overfitting", Journal of Computational Finance 20(4).

Conventions (the lead documents them; the tests pin them):
- Sharpe ratios are per period (daily returns give a daily Sharpe), never annualised, with the
  sample standard deviation (ddof=1) and no risk-free rate. Non-finite returns are ignored.
- γ3 is the skewness and γ4 the RAW kurtosis (3 for a normal distribution), both population
  (biased) moments, as in the papers' reference code. Feeding excess kurtosis (γ4 − 3), a bug
  seen in popular libraries, understates the penalty for fat tails.
- Undefined values are NaN (or +inf where the formula says "never").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats

EULER_GAMMA = float(np.euler_gamma)
"""γ ≈ 0.5772, the Euler–Mascheroni constant of the expected-maximum approximation."""

ZERO_STD = 1e-12
"""A standard deviation at or below this is zero: the Sharpe ratio is then undefined."""

MAX_SPLITS = 20
"""Largest CSCV split count: C(20, 10) = 184,756 combinations; more is not worth the time."""

_TIE_TOL = 1e-12

Metric = Callable[[np.ndarray], float]
"""A performance statistic of one trial's return series (1-D array) -> float (NaN: undefined)."""

ArrayLike = Sequence[float] | np.ndarray


def _finite(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


def sharpe(returns: ArrayLike) -> float:
    """Per-period Sharpe ratio: mean / standard deviation (ddof=1), no risk-free rate.

    Not annualised on purpose: PSR, DSR and PBO want the Sharpe ratio at the frequency of the
    observations (their sqrt(T − 1) does the scaling). Non-finite values are ignored. NaN with
    fewer than 2 returns or a zero standard deviation (≤ `ZERO_STD`).
    """
    r = _finite(returns)
    if r.size < 2:
        return math.nan
    std = float(r.std(ddof=1))
    if std <= ZERO_STD:
        return math.nan
    return float(r.mean()) / std


def moments(returns: ArrayLike) -> tuple[float, float]:
    """(skewness γ3, raw kurtosis γ4) of the finite returns, as population moments.

    γ3 = m3 / m2^1.5 and γ4 = m4 / m2² with m_k = mean((r − mean)^k): a normal sample gives
    about (0, 3). NaN when fewer than 2 returns or no dispersion.
    """
    r = _finite(returns)
    if r.size < 2:
        return math.nan, math.nan
    d = r - r.mean()
    m2 = float(np.mean(d**2))
    if math.sqrt(m2) <= ZERO_STD:
        return math.nan, math.nan
    return float(np.mean(d**3)) / m2**1.5, float(np.mean(d**4)) / m2**2


def _sr_variance_factor(sr: float, skew: float, kurtosis: float) -> float:
    """1 − γ3·SR + (γ4 − 1)/4·SR²: the non-normal variance of the Sharpe estimate (× T − 1).

    Never negative for a real distribution (γ4 ≥ 1 + γ3² makes it ≥ (1 − γ3·SR/2)²).
    """
    return 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr


def probabilistic_sharpe_ratio(
    sr: float, sr_benchmark: float, n: float, skew: float, kurtosis: float
) -> float:
    """PSR: probability that the true Sharpe ratio exceeds `sr_benchmark` (Bailey & López de
    Prado 2012, eq. 11).

    PSR = Φ((SR − SR*)·sqrt(n − 1) / sqrt(1 − γ3·SR + (γ4 − 1)/4·SR²)), with SR the per-period
    Sharpe of n returns, γ3 their skewness and γ4 their RAW kurtosis (normal = 3, not the
    excess 0). Fat tails and negative skew widen the Sharpe estimate's error, so they lower PSR.
    NaN when n < 2, an input is not finite or the variance factor is not positive.
    """
    values = (sr, sr_benchmark, n, skew, kurtosis)
    if not all(math.isfinite(v) for v in values) or n < 2:
        return math.nan
    factor = _sr_variance_factor(sr, skew, kurtosis)
    if factor <= 0:
        return math.nan
    z = (sr - sr_benchmark) * math.sqrt(n - 1.0) / math.sqrt(factor)
    return float(stats.norm.cdf(z))


def _expected_max_z(n_trials: float) -> float:
    """(1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e)): E[max of N standard normals] (approx.)."""
    if not n_trials >= 1:
        raise ValueError(f"n_trials must be at least 1, got {n_trials}")
    if n_trials == 1:
        return 0.0  # one trial: nothing was selected, no selection bias
    return float((1.0 - EULER_GAMMA) * stats.norm.ppf(1.0 - 1.0 / n_trials)
                 + EULER_GAMMA * stats.norm.ppf(1.0 - 1.0 / (n_trials * math.e)))


def expected_max_sharpe(n_trials: float, sr_variance: float) -> float:
    """SR0: the Sharpe ratio the best of N skill-less trials is expected to show (Bailey & López
    de Prado 2014, eq. 2, from the false strategy theorem).

    SR0 = sqrt(V)·((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))), γ the Euler–Mascheroni
    constant, V the variance of the trials' Sharpe ratios (same period as the Sharpe tested).
    N counts effectively independent trials; the raw trial count is an upper bound. N may be
    fractional (an effective count); N = 1 gives 0. ValueError when N < 1 or V < 0.
    """
    if sr_variance < 0 or not math.isfinite(sr_variance):
        raise ValueError(f"sr_variance must be finite and >= 0, got {sr_variance}")
    return math.sqrt(sr_variance) * _expected_max_z(n_trials)


@dataclass(frozen=True, slots=True)
class DSRResult:
    """Deflated Sharpe ratio and what went into it (Sharpe values per period)."""

    dsr: float
    """P(true Sharpe > 0 after the search); below 0.95 the result is not significant."""
    sr: float
    """Sharpe ratio of the selected trial's returns."""
    sr0: float
    """Expected maximum Sharpe of `n_trials` skill-less trials (the deflated benchmark)."""
    n_trials: float
    skew: float
    kurtosis: float
    """Raw kurtosis (normal = 3)."""
    t: int
    """Number of returns the Sharpe ratio was measured on."""


def deflated_sharpe_ratio(
    returns: ArrayLike, trial_sharpes: ArrayLike, *, n_trials: float | None = None
) -> DSRResult:
    """DSR (Bailey & López de Prado 2014, eq. 2): PSR against the Sharpe the search would find by
    luck alone, SR0 = `expected_max_sharpe(N, V)`.

    `returns` are the selected trial's period returns; `trial_sharpes` are the per-period Sharpe
    ratios of every trial of the search (same period), used for V = their sample variance
    (ddof=1, non-finite ones ignored). `n_trials` defaults to len(trial_sharpes), non-finite
    entries included: a trial that produced no Sharpe was still tried. Pass a smaller effective
    N after clustering similar trials. ValueError when V cannot be estimated (fewer than two
    finite Sharpes) while N > 1.
    """
    r = _finite(returns)
    all_sharpes = np.asarray(trial_sharpes, dtype=float).ravel()
    n = float(len(all_sharpes) if n_trials is None else n_trials)
    finite = all_sharpes[np.isfinite(all_sharpes)]
    if n > 1 and finite.size < 2:
        raise ValueError("need the Sharpe ratios of at least two trials to estimate their variance")
    variance = float(finite.var(ddof=1)) if finite.size >= 2 else 0.0
    sr0 = expected_max_sharpe(n, variance)
    sr = sharpe(r)
    skew, kurtosis = moments(r)
    dsr = probabilistic_sharpe_ratio(sr, sr0, r.size, skew, kurtosis)
    return DSRResult(dsr=dsr, sr=sr, sr0=sr0, n_trials=n, skew=skew, kurtosis=kurtosis,
                     t=int(r.size))


def min_track_record_length(
    sr: float, sr_benchmark: float, skew: float, kurtosis: float, prob: float = 0.95
) -> float:
    """MinTRL in periods (Bailey & López de Prado 2012, eq. 13): the number of returns needed
    for PSR(sr_benchmark) to reach `prob`.

    MinTRL = 1 + (1 − γ3·SR + (γ4 − 1)/4·SR²)·(Φ⁻¹(prob) / (SR − SR*))², γ4 RAW kurtosis. +inf
    when SR ≤ SR* (no track record is long enough); NaN for non-finite input.
    """
    if not all(math.isfinite(v) for v in (sr, sr_benchmark, skew, kurtosis)):
        return math.nan
    if not 0 < prob < 1:
        raise ValueError(f"prob must be in (0, 1), got {prob}")
    if sr <= sr_benchmark:
        return math.inf
    factor = _sr_variance_factor(sr, skew, kurtosis)
    z = float(stats.norm.ppf(prob))
    return 1.0 + factor * (z / (sr - sr_benchmark)) ** 2


def min_backtest_length(n_trials: float, target_sharpe_annual: float) -> float:
    """MinBTL in years (Bailey, Borwein, López de Prado & Zhu 2014, Theorem 2): the shortest
    history on which N skill-less trials are not expected to show an annualised Sharpe of
    `target_sharpe_annual` (E[max SR]) by luck.

    MinBTL ≈ ((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e)))² / E[max SR]². A range shorter than
    that cannot tell skill from luck. N = 1 gives 0. ValueError for a target ≤ 0.
    """
    if not target_sharpe_annual > 0:
        raise ValueError(f"target_sharpe_annual must be > 0, got {target_sharpe_annual}")
    return _expected_max_z(n_trials) ** 2 / target_sharpe_annual**2


# --------------------------------------------------------------------------- PBO / CSCV


@dataclass(frozen=True, slots=True, eq=False)
class PBOResult:
    """Probability of backtest overfitting and its per-combination detail."""

    pbo: float
    """Share of combinations whose in-sample best trial is at or below the OOS median."""
    logits: np.ndarray
    """λ = ln(ω / (1 − ω)) per combination (ω = OOS relative rank of the IS best)."""
    n_combinations: int
    is_perf: np.ndarray
    """In-sample metric of the in-sample best trial, per combination."""
    oos_perf: np.ndarray
    """Out-of-sample metric of that same trial, per combination."""
    degradation_slope: float
    """OLS slope of `oos_perf` on `is_perf` (negative: more IS performance, less OOS)."""
    n_splits: int
    """S actually used (may be lower than asked for a short matrix)."""
    rows_dropped: int
    """Oldest rows left out so the S blocks have equal size."""


def _column_sharpes(sum1: np.ndarray, sum2: np.ndarray, count: int,
                    center: np.ndarray) -> np.ndarray:
    """Sharpe per column from sums of centred returns (same rule as `sharpe`)."""
    mean = sum1 / count + center
    var = np.maximum((sum2 - sum1 * sum1 / count) / (count - 1), 0.0)
    std = np.sqrt(var)
    ok = std > ZERO_STD
    return np.divide(mean, std, out=np.full_like(mean, np.nan), where=ok)


def _oos_rank(oos: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Rank (1..N, ascending, ties averaged) of column `chosen[i]` within row i of `oos`.

    Values within 1e-12 (relative) count as ties, so identical trials tie whatever the
    summation order. NaN (undefined metric) ranks lowest.
    """
    values = np.where(np.isnan(oos), -np.inf, oos)
    picked = values[np.arange(len(values)), chosen][:, None]
    scale = np.where(np.isfinite(picked), np.abs(picked), 0.0)
    tol = _TIE_TOL * np.maximum(1.0, scale)
    with np.errstate(invalid="ignore"):  # -inf - -inf: NaN, caught by the == test
        below = values < picked - tol
        tied = (values == picked) | (np.abs(values - picked) <= tol)
    return below.sum(axis=1) + (tied.sum(axis=1) + 1) / 2.0


def _best(is_values: np.ndarray) -> np.ndarray:
    """Index of the in-sample best trial per row (first on ties; NaN counts as worst)."""
    return np.argmax(np.where(np.isnan(is_values), -np.inf, is_values), axis=1)


def pbo_cscv(matrix: np.ndarray, n_splits: int = 16, metric: Metric = sharpe) -> PBOResult:
    """PBO by combinatorially symmetric cross-validation (Bailey, Borwein, López de Prado & Zhu
    2015, section 2).

    `matrix` is T periods × N trials of returns on one calendar (no NaN: align and fill first).
    Rows are split into S equal blocks of T // S consecutive rows; the T mod S OLDEST rows are
    dropped so every block has the same size and the most recent data is kept. For each of the
    C(S, S/2) choices J of S/2 blocks, IS = rows of J (in time order), OOS = the rest; n* is the
    trial with the best `metric` in sample (first on ties); ω = rank of n* out of sample / (N+1)
    (ranks 1..N ascending, ties averaged); λ = ln(ω / (1 − ω)). PBO = share of λ ≤ 0. With no
    skill PBO is about 0.5, not 0; above 0.5 the selection is overfit.

    S must be even and ≤ `MAX_SPLITS` (ValueError otherwise). If T < 2·S, S drops to the
    largest even value with at least 2 rows per block (`PBOResult.n_splits` says which); T < 4
    or N < 2 is a ValueError. The default `metric` (`sharpe`) runs vectorised; any other
    metric is called once per trial and half, C(S, S/2)·2·N calls.
    """
    data = np.asarray(matrix, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"matrix must be 2-D (periods x trials), got shape {data.shape}")
    n_rows, n_trials = data.shape
    if n_trials < 2:
        raise ValueError(f"PBO needs at least 2 trials, got {n_trials}")
    if n_splits < 2 or n_splits % 2 or n_splits > MAX_SPLITS:
        raise ValueError(f"n_splits must be even and in 2..{MAX_SPLITS}, got {n_splits}")
    if not np.isfinite(data).all():
        raise ValueError("matrix has non-finite values; align the trials and fill gaps first")
    if n_rows < 4:
        raise ValueError(f"PBO needs at least 4 periods, got {n_rows}")
    splits = n_splits if n_rows >= 2 * n_splits else (n_rows // 2) // 2 * 2
    block = n_rows // splits
    dropped = n_rows - block * splits
    blocks = data[dropped:].reshape(splits, block, n_trials)
    combos = list(combinations(range(splits), splits // 2))

    if metric is sharpe:
        is_values, oos_values = _cscv_sharpe(blocks, combos)
    else:
        is_values = np.empty((len(combos), n_trials))
        oos_values = np.empty_like(is_values)
        for i, chosen in enumerate(combos):
            mask = np.zeros(splits, dtype=bool)
            mask[list(chosen)] = True
            is_rows = blocks[mask].reshape(-1, n_trials)
            oos_rows = blocks[~mask].reshape(-1, n_trials)
            is_values[i] = [metric(is_rows[:, j]) for j in range(n_trials)]
            oos_values[i] = [metric(oos_rows[:, j]) for j in range(n_trials)]

    best = _best(is_values)
    omega = _oos_rank(oos_values, best) / (n_trials + 1.0)
    logits = np.log(omega / (1.0 - omega))
    rows = np.arange(len(combos))
    is_perf, oos_perf = is_values[rows, best], oos_values[rows, best]
    return PBOResult(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        n_combinations=len(combos),
        is_perf=is_perf,
        oos_perf=oos_perf,
        degradation_slope=_ols_slope(is_perf, oos_perf),
        n_splits=splits,
        rows_dropped=dropped,
    )


def _cscv_sharpe(blocks: np.ndarray, combos: list[tuple[int, ...]],
                 chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """IS and OOS Sharpe of every trial for every combination, from per-block sums.

    Returns are centred on each trial's overall mean first, so the sums-of-squares variance
    does not lose precision.
    """
    splits, block, n_trials = blocks.shape
    center = blocks.reshape(-1, n_trials).mean(axis=0)
    centred = blocks - center
    sum1 = centred.sum(axis=1)  # splits x trials
    sum2 = (centred * centred).sum(axis=1)
    total1, total2 = sum1.sum(axis=0), sum2.sum(axis=0)
    count = block * splits // 2
    masks = np.zeros((len(combos), splits))
    for i, chosen in enumerate(combos):
        masks[i, list(chosen)] = 1.0
    is_values = np.empty((len(combos), n_trials))
    oos_values = np.empty_like(is_values)
    for start in range(0, len(combos), chunk):
        part = masks[start:start + chunk]
        in1, in2 = part @ sum1, part @ sum2
        is_values[start:start + chunk] = _column_sharpes(in1, in2, count, center)
        oos_values[start:start + chunk] = _column_sharpes(total1 - in1, total2 - in2, count,
                                                          center)
    return is_values, oos_values


def _ols_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on x over finite pairs; NaN when x does not vary."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return math.nan
    dx = x[ok] - x[ok].mean()
    denominator = float(np.sum(dx * dx))
    if denominator <= 0:
        return math.nan
    return float(np.sum(dx * (y[ok] - y[ok].mean())) / denominator)
