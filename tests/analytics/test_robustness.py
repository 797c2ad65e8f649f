"""Overfitting and robustness statistics against hand-computed values and the papers' examples.

Φ and Φ⁻¹ values quoted in comments are standard-normal table values (6 digits).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from tvdesk.analytics.overfitting import moments
from tvdesk.analytics.robustness import (
    EULER_GAMMA,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    min_backtest_length,
    min_track_record_length,
    monte_carlo_drawdown,
    parameter_stability,
    pbo_cscv,
    probabilistic_sharpe_ratio,
    risk_metrics,
    sharpe,
    walk_forward,
)
from tvdesk.model import EquityCurve, Trade

# --------------------------------------------------------------------------- Sharpe, PSR


def test_sharpe_is_per_period_with_sample_std():
    # mean 0.02, sample std of (0.01, 0.02, 0.03) = sqrt((1e-4 + 0 + 1e-4) / 2) = 0.01
    assert sharpe([0.01, 0.02, 0.03]) == pytest.approx(2.0)
    # NaN entries are ignored: same as above
    assert sharpe([0.01, math.nan, 0.02, 0.03]) == pytest.approx(2.0)
    assert math.isnan(sharpe([0.01]))
    assert math.isnan(sharpe([0.01, 0.01, 0.01]))


def test_moments_are_population_skew_and_raw_kurtosis():
    # two-point symmetric distribution: skew 0, raw kurtosis 1 (excess −2)
    skew, kurt = moments([0.02, -0.01] * 50)
    assert skew == pytest.approx(0.0, abs=1e-12)
    assert kurt == pytest.approx(1.0)
    # (0, 0, 0, 1): deviations (−¼, −¼, −¼, ¾); m2 = 3/16, m3 = 3/32, m4 = 21/256
    # skew = (3/32) / (3/16)^1.5 = 1.154701, kurt = (21/256) / (3/16)² = 2.333333
    skew, kurt = moments([0.0, 0.0, 0.0, 1.0])
    assert skew == pytest.approx(1.1547005)
    assert kurt == pytest.approx(7.0 / 3.0)


def test_psr_by_hand_normal_returns():
    # SR = 0.1, SR* = 0, n = 253, skew 0, kurt 3:
    # z = 0.1·sqrt(252) / sqrt(1 + (3 − 1)/4·0.01) = 1.587451 / 1.002497 = 1.583497
    # Φ(1.583497) = 0.943346
    assert probabilistic_sharpe_ratio(0.1, 0.0, 253, 0.0, 3.0) == pytest.approx(0.943346, abs=1e-6)
    # against its own SR the probability is one half
    assert probabilistic_sharpe_ratio(0.1, 0.1, 253, 0.0, 3.0) == pytest.approx(0.5)
    assert math.isnan(probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0))


def test_dsr_paper_example_and_raw_kurtosis():
    # Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", numerical example:
    # N = 100 trials, V = 1/2 annualised (1/500 daily), T = 1250 daily returns, annualised
    # SR 2.5 (daily 2.5/sqrt(250) = 0.158114), skew −3, kurtosis 10.
    # SR0 = sqrt(0.002)·(0.422784·Φ⁻¹(0.99) + 0.577216·Φ⁻¹(1 − 1/(100e)))
    #     = 0.044721·(0.422784·2.326348 + 0.577216·2.680210) = 0.1132 (paper: 0.1132)
    sr = 2.5 / math.sqrt(250)
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.113172, abs=1e-6)
    # DSR = Φ((0.158114 − 0.113172)·sqrt(1249) / sqrt(1 + 3·0.158114 + 9/4·0.025)) = Φ(1.2838)
    #     = 0.9004 (paper: 0.9004)
    dsr = probabilistic_sharpe_ratio(sr, sr0, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)
    # Feeding EXCESS kurtosis (7) understates the fat-tail penalty: a different, higher answer
    wrong = probabilistic_sharpe_ratio(sr, sr0, 1250, -3.0, 7.0)
    assert wrong == pytest.approx(0.901779, abs=1e-6)
    assert wrong - dsr > 1e-3


def test_expected_max_sharpe():
    # N = 1000, V = 1: 0.422784·Φ⁻¹(0.999) + 0.577216·Φ⁻¹(1 − 1/(1000e))
    #                = 0.422784·3.090232 + 0.577216·3.375895 = 3.255122
    assert expected_max_sharpe(1000, 1.0) == pytest.approx(3.255122, abs=1e-6)
    # scales with sqrt(V)
    assert expected_max_sharpe(1000, 4.0) == pytest.approx(2 * 3.255122, abs=1e-6)
    # N = 2: Φ⁻¹(½) = 0, so only γ·Φ⁻¹(1 − 1/(2e)) = 0.577216·0.900452 = 0.519755
    assert expected_max_sharpe(2, 1.0) == pytest.approx(0.519755, abs=1e-6)
    assert expected_max_sharpe(1, 1.0) == 0.0
    assert math.isclose(EULER_GAMMA, 0.5772156649)
    with pytest.raises(ValueError):
        expected_max_sharpe(0, 1.0)


def test_deflated_sharpe_ratio_on_a_constructed_series():
    # 50 × (+0.02, −0.01): mean 0.005, population std 0.015, sample std 0.015·sqrt(100/99)
    # SR = (1/3)·sqrt(99/100) = 0.331662; skew 0; raw kurtosis 1 → variance factor exactly 1
    returns = [0.02, -0.01] * 50
    # trial Sharpes (−0.1, 0, 0.1): V = 0.01 (ddof=1), N = 3
    # SR0 = 0.1·(0.422784·Φ⁻¹(2/3) + 0.577216·Φ⁻¹(1 − 1/(3e)))
    #     = 0.1·(0.422784·0.430727 + 0.577216·1.161957) = 0.085280
    # DSR = Φ((0.331662 − 0.085280)·sqrt(99)) = Φ(2.451468) = 0.992886
    result = deflated_sharpe_ratio(returns, [-0.1, 0.0, 0.1])
    assert result.sr == pytest.approx(0.331662, abs=1e-6)
    assert result.sr0 == pytest.approx(0.085280, abs=1e-6)
    assert result.n_trials == 3
    assert result.t == 100
    assert result.skew == pytest.approx(0.0, abs=1e-12)
    assert result.kurtosis == pytest.approx(1.0)
    assert result.dsr == pytest.approx(0.992886, abs=1e-6)
    # claiming 1000 effectively independent trials with the same V deflates harder:
    # SR0 = 0.1·3.255122 = 0.325512 → DSR = Φ((0.331662 − 0.325512)·sqrt(99)) = Φ(0.061190)
    many = deflated_sharpe_ratio(returns, [-0.1, 0.0, 0.1], n_trials=1000)
    assert many.sr0 == pytest.approx(0.325512, abs=1e-6)
    assert many.dsr == pytest.approx(0.524396, abs=1e-5)
    # a failed trial (NaN Sharpe) still counts as tried but not in V
    counted = deflated_sharpe_ratio(returns, [-0.1, 0.0, 0.1, math.nan])
    assert counted.n_trials == 4
    assert counted.sr0 == pytest.approx(expected_max_sharpe(4, 0.01))
    with pytest.raises(ValueError):
        deflated_sharpe_ratio(returns, [0.1], n_trials=10)


def test_min_track_record_length_by_hand():
    # 1 + (1 + (3 − 1)/4·0.01)·(Φ⁻¹(0.95)/0.1)² = 1 + 1.005·(1.644854/0.1)² = 272.907117
    assert min_track_record_length(0.1, 0.0, 0.0, 3.0) == pytest.approx(272.907117, abs=1e-5)
    # at exactly MinTRL observations, PSR equals the requested probability
    n = min_track_record_length(0.1, 0.0, -1.0, 6.0, prob=0.9)
    assert probabilistic_sharpe_ratio(0.1, 0.0, n, -1.0, 6.0) == pytest.approx(0.9)
    assert min_track_record_length(0.1, 0.1, 0.0, 3.0) == math.inf
    assert min_track_record_length(0.05, 0.1, 0.0, 3.0) == math.inf


def test_min_backtest_length_paper_values():
    # Bailey, Borwein, López de Prado & Zhu (2014): with 5 years of data no more than 45
    # independent configurations should be tried for an annualised Sharpe of 1:
    # (0.422784·Φ⁻¹(1 − 1/45) + 0.577216·Φ⁻¹(1 − 1/(45e)))² = (0.422784·2.009875
    #   + 0.577216·2.401003)² = 2.236121² = 5.0002 → 4.998 years
    assert min_backtest_length(45, 1.0) == pytest.approx(4.998087, abs=1e-5)
    # 7 trials: (0.422784·1.067570 + 0.577216·1.620395)² = 1.923 years ("about 2 years")
    assert min_backtest_length(7, 1.0) == pytest.approx(1.923143, abs=1e-5)
    # a target twice as high needs a quarter of the history
    assert min_backtest_length(45, 2.0) == pytest.approx(4.998087 / 4, abs=1e-5)
    assert min_backtest_length(1, 1.0) == 0.0
    with pytest.raises(ValueError):
        min_backtest_length(10, 0.0)


# --------------------------------------------------------------------------- PBO


def test_pbo_zero_when_one_trial_is_best_everywhere():
    rng = np.random.default_rng(1)
    matrix = rng.normal(0.0, 0.01, (160, 10))
    matrix[:, 3] += 0.05  # trial 3: mean 0.05, std 0.01 → Sharpe ≈ 5, the others ≈ 0
    result = pbo_cscv(matrix, n_splits=8)
    assert result.n_combinations == 70  # C(8, 4)
    assert result.pbo == 0.0
    # the IS winner is always OOS rank N = 10: ω = 10/11, λ = ln(10)
    np.testing.assert_allclose(result.logits, math.log(10.0))


def test_pbo_about_half_for_pure_noise():
    matrix = np.random.default_rng(2).normal(0.0, 0.01, (800, 50))
    result = pbo_cscv(matrix, n_splits=16)
    assert result.n_combinations == 12_870  # C(16, 8)
    assert result.n_splits == 16
    assert result.rows_dropped == 0
    assert 0.3 < result.pbo < 0.7
    assert result.pbo == pytest.approx(0.501166, abs=1e-6)  # pinned for seed 2
    assert len(result.logits) == len(result.is_perf) == len(result.oos_perf) == 12_870


def test_pbo_one_when_the_is_winner_is_always_the_oos_loser():
    # Trial A's 8 blocks (2 rows each) sum to 2·(1, 2, 4, 8, 16, 32, 64, −127): the total is 0
    # and no 4 blocks sum to 0, so whenever A is positive in sample it is negative out of
    # sample. Trial B = −A. The IS winner (positive mean) is the OOS loser: rank 1 of 2,
    # ω = 1/3, λ = ln(1/2).
    levels = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, -127.0]
    a = np.array([v + d for v in levels for d in (0.5, -0.5)])
    result = pbo_cscv(np.column_stack((a, -a)), n_splits=8)
    assert result.pbo == 1.0
    np.testing.assert_allclose(result.logits, math.log(0.5))
    # the chosen trial is positive in sample and negative out of sample every time
    assert (result.is_perf > 0).all()
    assert (result.oos_perf < 0).all()


def test_pbo_by_hand_with_two_blocks_and_mean_metric():
    # Blocks {rows 0,1}, {rows 2,3}; metric = mean.
    #   A = (1, 4 | 2, 0): block means 2.5, 1     B = (0, 3 | 3, 5): block means 1.5, 4
    # J = {b1}: IS A 2.5 > B 1.5 → n* = A; OOS A 1 < B 4 → rank 1, ω = 1/3, λ = ln ½
    # J = {b2}: IS B 4 > A 1 → n* = B; OOS B 1.5 < A 2.5 → rank 1, λ = ln ½
    # PBO = 1; is_perf (2.5, 4), oos_perf (1, 1.5): slope = 0.5 / 1.5 = 1/3
    matrix = np.array([[1.0, 0.0], [4.0, 3.0], [2.0, 3.0], [0.0, 5.0]])
    result = pbo_cscv(matrix, n_splits=2, metric=np.mean)
    assert result.n_combinations == 2
    assert result.pbo == 1.0
    np.testing.assert_allclose(result.logits, [math.log(0.5)] * 2)
    np.testing.assert_allclose(result.is_perf, [2.5, 4.0])
    np.testing.assert_allclose(result.oos_perf, [1.0, 1.5])
    assert result.degradation_slope == pytest.approx(1.0 / 3.0)


def test_pbo_ties_share_the_average_rank():
    # three identical trials and one worse: the IS winner ties with two others out of sample,
    # ranks 2, 3, 4 → average 3; ω = 3/5, λ = ln(3/2)
    rng = np.random.default_rng(5)
    base = rng.normal(0.01, 0.01, 40)
    matrix = np.column_stack((base, base, base, base - 0.05))
    result = pbo_cscv(matrix, n_splits=4)
    np.testing.assert_allclose(result.logits, math.log(1.5))
    assert result.pbo == 0.0


def test_pbo_vectorised_sharpe_matches_the_generic_path():
    matrix = np.random.default_rng(3).normal(0.0, 0.01, (83, 6))
    fast = pbo_cscv(matrix, n_splits=8)
    slow = pbo_cscv(matrix, n_splits=8, metric=lambda r: sharpe(r))
    assert fast.rows_dropped == slow.rows_dropped == 3  # 83 = 8·10 + 3
    np.testing.assert_allclose(fast.logits, slow.logits)
    np.testing.assert_allclose(fast.is_perf, slow.is_perf, rtol=1e-9)
    np.testing.assert_allclose(fast.oos_perf, slow.oos_perf, rtol=1e-9)
    assert fast.pbo == slow.pbo


def test_pbo_drops_the_oldest_rows_and_reduces_splits():
    rng = np.random.default_rng(4)
    matrix = rng.normal(0.0, 0.01, (10, 3))
    # T = 10 < 2·16: S becomes the largest even value with 2 rows per block, 4; 10 − 8 = 2
    # oldest rows are dropped, so garbage there changes nothing
    result = pbo_cscv(matrix, n_splits=16)
    assert (result.n_splits, result.rows_dropped, result.n_combinations) == (4, 2, 6)
    spoiled = matrix.copy()
    spoiled[:2] = [[5.0, -5.0, 0.3], [-9.0, 2.0, 0.1]]
    np.testing.assert_array_equal(pbo_cscv(spoiled, n_splits=16).logits, result.logits)
    np.testing.assert_array_equal(pbo_cscv(matrix[2:], n_splits=4).logits, result.logits)


def test_pbo_rejects_bad_arguments():
    matrix = np.zeros((40, 3))
    for bad in (3, 0, 22):
        with pytest.raises(ValueError):
            pbo_cscv(matrix, n_splits=bad)
    with pytest.raises(ValueError):
        pbo_cscv(np.zeros((40, 1)))
    with pytest.raises(ValueError):
        pbo_cscv(np.zeros((3, 4)), n_splits=2)
    with pytest.raises(ValueError):
        pbo_cscv(np.full((40, 3), math.nan))


# --------------------------------------------------------------------------- walk-forward

HI = [0.02, 0.0] * 5  # mean 0.01, Sharpe 0.948683
LO = [0.003, -0.001] * 5  # mean 0.001, Sharpe 0.474342
NEG = [0.0, -0.002] * 5  # mean −0.001, Sharpe −0.948683
DATES = [d.date().isoformat() for d in pd.date_range("2024-01-01", periods=40)]
FRAME = pd.DataFrame(
    {"t0": HI + LO + NEG + LO, "t1": NEG + HI + NEG + NEG, "t2": NEG + NEG + HI + HI},
    index=DATES,
)


def test_walk_forward_rolling_picks_the_in_sample_best():
    result = walk_forward(FRAME, n_windows=3)
    # segments of 10 days; window k chooses on segment k − 1, trades segment k
    assert [w.chosen_trial for w in result.windows] == ["t0", "t1", "t2"]
    assert result.windows[0] == ("2024-01-01", "2024-01-10", "2024-01-11", "2024-01-20", "t0")
    assert result.windows[2] == ("2024-01-21", "2024-01-30", "2024-01-31", "2024-02-09", "t2")
    # stitched: t0's LO, t1's NEG, t2's HI
    np.testing.assert_allclose(result.oos_returns.to_numpy(), LO + NEG + HI)
    assert list(result.oos_returns.index) == DATES[10:]
    # sum = 0.015 − 0.005 − 0.010 + 0.100 = 0.1 → mean 1/300; Σr² = 5·4.14e-4 = 2.07e-3
    # SS = 2.07e-3 − 30/300² = 1.736667e-3; std = sqrt(SS/29) = 0.00773854
    # Sharpe = 0.00333333 / 0.00773854 = 0.430744; t = 0.430744·sqrt(30) = 2.359284
    assert result.oos_sharpe == pytest.approx(0.430744, abs=1e-6)
    assert result.oos_t_stat == pytest.approx(2.359284, abs=1e-6)
    # every IS choice had mean 0.01: efficiency = (1/300) / 0.01 = 1/3
    assert result.efficiency == pytest.approx(1.0 / 3.0)
    assert result.is_sharpe == pytest.approx(0.948683, abs=1e-6)


def test_walk_forward_anchored_grows_the_in_sample_window():
    result = walk_forward(FRAME, n_windows=3, anchored=True)
    # IS days 1–20: t0 (HI+LO) Sharpe 0.630675 beats t1 (NEG+HI) 0.488094;
    # IS days 1–30: t0 0.430744 beats t1 and t2 (0.336)
    assert [w.chosen_trial for w in result.windows] == ["t0", "t0", "t0"]
    assert [w.is_start for w in result.windows] == ["2024-01-01"] * 3
    assert result.windows[2].is_end == "2024-01-30"
    np.testing.assert_allclose(result.oos_returns.to_numpy(), LO + NEG + LO)
    # OOS mean (0.01 − 0.01 + 0.01)/30 = 1/3000; IS means 0.01, 0.11/20, 0.1/30
    # efficiency = (1/3000) / ((0.01 + 0.0055 + 0.0033333)/3) = 0.053097
    assert result.efficiency == pytest.approx(0.053097, abs=1e-6)


def test_walk_forward_rejects_too_short_frames():
    with pytest.raises(ValueError):
        walk_forward(FRAME.iloc[:7], n_windows=3)
    with pytest.raises(ValueError):
        walk_forward(FRAME, n_windows=0)


# --------------------------------------------------------------------------- stability


def _grid(metric):
    """Trials on x ∈ 1..5 (step 1) × y ∈ 0.1..0.5 (step 0.1) × mode ∈ {a, b}."""
    return [
        ({"x": x, "y": round(0.1 * j, 10) + 0.0, "mode": mode}, metric(x, j, mode))
        for x in range(1, 6) for j in range(1, 6) for mode in ("a", "b")
    ]


CENTER = {"x": 3, "y": 0.30000000000000004, "mode": "a"}  # 0.1 + 0.2: float noise tolerated
STEPS = {"x": 1, "y": 0.1}


def test_stability_plateau():
    # plateau: metric = 10 − |x − 3| − 10·|y − 0.3| on mode a; mode b is far worse
    def plateau(x, j, mode):
        return 10.0 - abs(x - 3) - abs(j - 3) if mode == "a" else -5.0

    result = parameter_stability(CENTER, _grid(plateau), STEPS)
    assert result.center_value == 10.0
    # 8 neighbours (3×3 − center, mode a only): four at 9, four at 8 → median 8.5
    assert len(result.neighbours) == 8
    assert sorted(v for _, v in result.neighbours) == [8.0] * 4 + [9.0] * 4
    assert result.neighbour_median == 8.5
    assert result.ratio == pytest.approx(0.85)


def test_stability_isolated_peak():
    def peak(x, j, mode):
        return 10.0 if (x, j, mode) == (3, 3, "a") else 1.0

    result = parameter_stability(CENTER, _grid(peak), STEPS)
    assert result.neighbour_median == 1.0
    assert result.ratio == pytest.approx(0.1)
    # a losing center has no meaningful ratio
    losing = parameter_stability(CENTER, _grid(lambda x, j, m: -1.0), STEPS)
    assert losing.center_value == -1.0
    assert losing.ratio is None
    # no neighbours in the list
    alone = parameter_stability(CENTER, [(CENTER, 5.0), ({**CENTER, "x": 9}, 4.0)], STEPS)
    assert (alone.neighbour_median, alone.ratio, alone.neighbours) == (None, None, [])
    with pytest.raises(ValueError):
        parameter_stability(CENTER, [({**CENTER, "x": 4}, 1.0)], STEPS)


# --------------------------------------------------------------------------- Monte Carlo


def test_monte_carlo_drawdown_three_trades():
    # +100, −50, −50 from 1000: three distinct orders, each with probability 1/3
    #   W L L: 1100 → 1000: 100 money, 100/1100 = 9.0909 %
    #   L W L: 950 → 1050 → 1000: 50 money, 50/1000 = 5 %
    #   L L W: 950 → 900: 100 money, 10 %
    # 95th percentile: 10 % (1/3 of paths); median 9.0909 %; money 95th: 100 (2/3 of paths)
    result = monte_carlo_drawdown(np.array([100.0, -50.0, -50.0]), 1000.0)
    assert result.p_drawdown_percent == pytest.approx(10.0)
    assert result.median_drawdown_percent == pytest.approx(100.0 / 11.0)
    assert result.p_drawdown == pytest.approx(100.0)
    assert monte_carlo_drawdown(np.array([100.0, -50.0, -50.0]), 1000.0) == result


def test_monte_carlo_drawdown_bounds():
    # 20 wins of +30 and 20 losses of −20, initial 1000
    wins_first = np.array([30.0] * 20 + [-20.0] * 20)
    # the given order: peak 1600, then all losses: 400 money, 400/1600 = 25 %, the worst money
    # drawdown possible; the worst percent is losses first: 400/1000 = 40 %
    # alternating (+30, −20) never loses more than one trade: 20 money, 20/1030 = 1.94 %
    result = monte_carlo_drawdown(wins_first, 1000.0, n=4000, seed=11)
    assert 20.0 <= result.p_drawdown <= 400.0
    assert 20.0 / 1600.0 * 100.0 <= result.p_drawdown_percent <= 40.0
    assert result.median_drawdown_percent <= result.p_drawdown_percent
    # reshuffled orders are far from the two extremes
    assert 60.0 < result.p_drawdown < 400.0
    assert monte_carlo_drawdown(wins_first, 1000.0, n=4000, seed=11) == result
    other = monte_carlo_drawdown(wins_first + np.linspace(0, 1, 40), 1000.0, n=4000, seed=12)
    assert other != result
    # only winners: no drawdown at all
    assert monte_carlo_drawdown(np.array([5.0, 7.0]), 100.0) == (
        monte_carlo_drawdown(np.array([]), 100.0))
    assert monte_carlo_drawdown(np.array([5.0, 7.0]), 100.0).p_drawdown == 0.0
    with pytest.raises(ValueError):
        monte_carlo_drawdown(wins_first, 0.0)


# --------------------------------------------------------------------------- risk metrics

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEP_MS = 5_259_600_000  # 365.25 / 6 days: six bars span exactly one year


def _trade(number, entry_bar, exit_bar, profit):
    return Trade(number=number, side="long", entry_time=T0, entry_price=100.0, qty=1.0,
                 exit_time=None if exit_bar is None else T0, profit=profit,
                 open=exit_bar is None, entry_bar=entry_bar, exit_bar=exit_bar)


EQUITY = [1000.0, 1100.0, 1050.0, 1200.0, 1150.0, 1250.0]
CURVE = EquityCurve(times=tuple(1_704_067_200_000 + i * STEP_MS for i in range(6)),
                    equity=tuple(EQUITY), equity_low=tuple(EQUITY), equity_high=tuple(EQUITY),
                    close=(100.0,) * 6)
TRADES = [_trade(1, 0, 1, 100.0), _trade(2, 1, 2, -50.0), _trade(3, 2, 3, 150.0),
          _trade(4, 3, 4, -50.0), _trade(5, 4, 5, 100.0)]


def test_risk_metrics_hand_example():
    m = risk_metrics(TRADES, CURVE, initial_capital=1000.0)
    # one bar per day: returns 0, 1/10, −1/22, 1/7, −1/24, 2/23; mean 0.0404487,
    # sample std 0.0799440 → Sharpe 0.505963
    assert m["sharpe_daily"] == pytest.approx(0.505963, abs=1e-6)
    # downside deviation sqrt(((1/22)² + (1/24)²)/6) = 0.0251735 → Sortino 1.606799
    assert m["sortino_daily"] == pytest.approx(1.606799, abs=1e-6)
    # 1000 → 1250 over exactly one year: CAGR 25 %
    assert m["cagr_percent"] == pytest.approx(25.0)
    # close-to-close drawdown: 1100 → 1050 = 50 money, 50/1100 = 4.5454 %; Calmar = 25/4.5454
    assert m["calmar"] == pytest.approx(5.5)
    # net profit 250 / max drawdown 50
    assert m["recovery_factor"] == pytest.approx(5.0)
    # R = (100, −50, 150, −50, 100): mean 50, sample std sqrt(35000/4) = 93.5414
    # SQN = sqrt(5)·50/93.5414 = 1.195229
    assert m["sqn"] == pytest.approx(1.195229, abs=1e-6)
    # 3/5·(350/3) − 2/5·50 = 70 − 20
    assert m["expectancy"] == pytest.approx(50.0)
    # bars 0..4 held (each trade holds [entry, exit)), bar 5 flat: 5/6
    assert m["exposure_percent"] == pytest.approx(500.0 / 6.0)
    # trade 2 loses 50 on equity 1000 + 100 = 1100 (4.5454 %); trade 4 on 1200 (4.1667 %)
    assert m["largest_loss_percent_of_equity"] == pytest.approx(100.0 * 50.0 / 1100.0)
    # 150 / 350 gross profit
    assert m["largest_win_share_percent"] == pytest.approx(300.0 / 7.0)


def test_risk_metrics_cap_open_trade_and_window():
    # SQN cap 3: sqrt(3)·50/93.5414 = 0.925820
    capped = risk_metrics(TRADES, CURVE, initial_capital=1000.0, sqn_cap=3)
    assert capped["sqn"] == pytest.approx(0.925820, abs=1e-6)
    # an open trade from bar 5 makes every bar held
    with_open = risk_metrics([*TRADES, _trade(6, 5, None, 10.0)], CURVE,
                             initial_capital=1000.0)
    assert with_open["exposure_percent"] == pytest.approx(100.0)
    # window from bar 2: bars 2, 3, 4 held of 2..5
    window = risk_metrics(TRADES, CURVE, initial_capital=1000.0, first_bar=2)
    assert window["exposure_percent"] == pytest.approx(75.0)
    # a book without losers, one trade: undefined values are None
    lone = risk_metrics([_trade(1, 0, 1, 100.0)], CURVE, initial_capital=1000.0)
    assert lone["sqn"] is None
    assert lone["largest_loss_percent_of_equity"] is None
    assert lone["largest_win_share_percent"] == pytest.approx(100.0)
    assert lone["expectancy"] == pytest.approx(100.0)
