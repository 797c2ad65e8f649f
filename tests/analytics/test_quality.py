"""Each tag rule fires on evidence built to trigger it, and only then."""

from __future__ import annotations

from tvdesk.analytics.quality import Evidence, QualityRules, judge, uses_lookahead

SOLID = {"total_trades": 120, "max_drawdown_percent": 6.0, "net_profit_percent": 25.0,
         "buy_hold_return_percent": 5.0, "margin_calls": 0}


def good_evidence(**changes) -> Evidence:
    base = dict(metrics=SOLID, targets_met=True, trading_days=400, psr=0.99, dsr=0.97,
                n_trials=200, pbo=0.1, sharpe_in_sample=0.12, sharpe_out_of_sample=0.08,
                stability_ratio=0.9, mc_drawdown_percent=8.0, min_track_record=150,
                track_periods=400, risk={"largest_loss_percent_of_equity": 2.0,
                                         "largest_win_share_percent": 12.0})
    base.update(changes)
    return Evidence(**base)


RULES = QualityRules(max_drawdown_percent=10.0)


def test_good_when_targets_met_and_every_robustness_check_passes() -> None:
    verdict = judge(good_evidence(), RULES)
    assert verdict.tag == "GOOD"
    assert "targets met" in verdict.reasons and "deflated Sharpe 0.97" in verdict.reasons


def test_overfit_rules_each_fire() -> None:
    cases = {
        "probability of backtest overfitting 0.62 > 0.5": good_evidence(pbo=0.62),
        "good only because of the search": good_evidence(dsr=0.3, psr=0.98),
        "holdout Sharpe -0.010 ≤ 0 while in-sample Sharpe is 0.120":
            good_evidence(sharpe_out_of_sample=-0.01),
        "holdout / in-sample Sharpe 0.17 < 0.3": good_evidence(sharpe_out_of_sample=0.02),
        "isolated peak: neighbours' median is 30% of this result":
            good_evidence(stability_ratio=0.3),
        "lookahead_on": good_evidence(lookahead=True),
    }
    for expected, evidence in cases.items():
        verdict = judge(evidence, RULES)
        assert verdict.tag == "OVERFIT", expected
        assert any(expected in reason for reason in verdict.reasons), (expected, verdict)


def test_risk_rules_each_fire() -> None:
    cases = {
        "max drawdown 12.00% > 10%": good_evidence(metrics={**SOLID,
                                                           "max_drawdown_percent": 12.0}),
        "Monte Carlo 95th-percentile drawdown 14.00% > 10%":
            good_evidence(mc_drawdown_percent=14.0),
        "2 margin call(s)": good_evidence(metrics={**SOLID, "margin_calls": 2}),
        "largest loss 15.0% of equity > 10%": good_evidence(
            risk={"largest_loss_percent_of_equity": 15.0, "largest_win_share_percent": 5}),
        "one trade made 70% of the gross profit": good_evidence(
            risk={"largest_loss_percent_of_equity": 1.0, "largest_win_share_percent": 70}),
        "worse than buy & hold": good_evidence(
            metrics={**SOLID, "net_profit_percent": 2.0, "buy_hold_return_percent": 30.0},
            risk={"largest_loss_percent_of_equity": 1.0, "largest_win_share_percent": 5,
                  "buy_hold_max_drawdown_percent": 3.0}),
    }
    for expected, evidence in cases.items():
        verdict = judge(evidence, RULES)
        assert verdict.tag == "RISK", expected
        assert any(expected in reason for reason in verdict.reasons), (expected, verdict)


def test_overfit_wins_over_risk_and_keeps_the_risk_reasons() -> None:
    verdict = judge(good_evidence(pbo=0.8, metrics={**SOLID, "margin_calls": 1}), RULES)
    assert verdict.tag == "OVERFIT"
    assert "also: 1 margin call(s)" in verdict.reasons


def test_normal_says_insufficient_evidence_and_which() -> None:
    verdict = judge(good_evidence(metrics={**SOLID, "total_trades": 12}, trading_days=40),
                    RULES)
    assert verdict.tag == "NORMAL"
    assert "insufficient evidence: 12 trades < 30" in verdict.reasons
    assert "insufficient evidence: 40 days of history < 90" in verdict.reasons


def test_an_endless_minimum_track_record_is_said_in_words() -> None:
    verdict = judge(good_evidence(min_track_record=float("inf"), track_periods=200), RULES)
    assert verdict.tag == "NORMAL"
    assert ("insufficient evidence: the Sharpe ratio does not beat the benchmark, so no track "
            "record is long enough (200 periods tested)") in verdict.reasons
    assert not any("∞" in reason for reason in verdict.reasons)
    finite = judge(good_evidence(min_track_record=316, track_periods=200), RULES)
    assert "insufficient evidence: track record 200 periods < minimum 316" in finite.reasons


def test_normal_lists_what_blocks_good() -> None:
    verdict = judge(good_evidence(targets_met=False, dsr=0.8, psr=0.9), RULES)
    assert verdict.tag == "NORMAL"
    assert verdict.reasons == ("targets not met", "deflated Sharpe 0.80 < 0.95")


def test_thresholds_are_configurable() -> None:
    strict = QualityRules(max_drawdown_percent=5.0)
    assert judge(good_evidence(), strict).tag == "RISK"
    lenient = QualityRules(max_drawdown_percent=10.0, pbo_overfit=0.7, pbo_good=0.7)
    assert judge(good_evidence(pbo=0.62), lenient).tag == "GOOD"
    assert QualityRules.from_dict(strict.to_dict()) == strict


def test_lookahead_detection() -> None:
    leaky = 'x = request.security(syminfo.tickerid, "D", close, lookahead=barmerge.lookahead_on)'
    safe = 'x = request.security(syminfo.tickerid, "D", close[1], ' \
        'lookahead=barmerge.lookahead_on)'
    commented = '// request.security(..., lookahead=barmerge.lookahead_on)'
    assert uses_lookahead(leaky)
    assert not uses_lookahead(safe)
    assert not uses_lookahead(commented)
