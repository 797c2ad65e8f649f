"""TradingView metrics from hand-made trades and equity curves, against hand-computed values."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from tvdesk.analytics.tv_metrics import MIN_ANNUALISED_DAYS, NOT_COMPUTED, compute_metrics
from tvdesk.metric_catalog import METRICS, variant_key
from tvdesk.model import EquityCurve, Trade

DAY_MS = 86_400_000
JAN_1_2024_MS = 1_704_067_200_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def trade(number, side, entry_bar, exit_bar, profit, pct=None, *, qty=1.0, commission=0.0):
    """A trade; `exit_bar=None` makes it open (profit is then its open P&L)."""
    return Trade(
        number=number, side=side, entry_time=T0, entry_price=100.0, qty=qty,
        exit_time=None if exit_bar is None else T0, profit=profit, profit_percent=pct,
        open=exit_bar is None, commission=commission, entry_bar=entry_bar, exit_bar=exit_bar,
    )


def curve(equity, low=None, high=None, close=None, times=None):
    """Daily bars from 2024-01-01 unless `times` is given; low/high default to the close."""
    n = len(equity)
    return EquityCurve(
        times=tuple(times or (JAN_1_2024_MS + i * DAY_MS for i in range(n))),
        equity=tuple(equity),
        equity_low=tuple(low or equity),
        equity_high=tuple(high or equity),
        close=tuple(close or [100.0] * n),
    )


def ms(text):
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


# A book of five closed trades and one open one, initial capital 1000.
BOOK = (
    trade(1, "long", 0, 4, 100.0, 10.0, commission=1.0),
    trade(2, "long", 4, 6, -50.0, -5.0, commission=2.0),
    trade(3, "short", 6, 9, 30.0, 3.0, commission=3.0),
    trade(4, "short", 9, 10, 0.0, 0.0, commission=4.0),
    trade(5, "long", 10, 15, 20.0, 2.0, commission=5.0),
    trade(6, "long", 15, None, 40.0, 4.0, commission=7.0),
)
BOOK_CURVE = curve([1000.0] * 4 + [1100.0] * 2 + [1050.0] * 3 + [1080.0] * 6 + [1140.0])


@pytest.fixture(scope="module")
def book():
    return compute_metrics(BOOK, BOOK_CURVE, initial_capital=1000.0, margin_calls=2)


def test_every_catalog_key_is_present_and_only_uncomputable_ones_are_none(book):
    expected = set()
    for m in METRICS:
        for scope in ("all", "long", "short") if m.by_side else ("all",):
            for percent in (False, True) if m.has_percent else (False,):
                expected.add(variant_key(m.key, scope, percent))
    assert set(book) == expected
    for value in book.values():
        assert value is None or isinstance(value, int | float)
        assert value is None or math.isfinite(value)
    # undefined in this book: shorts never lost, so nothing that divides by their losses
    undefined = {
        "avg_losing_trade_short", "avg_losing_trade_short_percent", "largest_losing_trade_short",
        "largest_losing_trade_short_percent", "ratio_avg_win_loss_short", "profit_factor_short",
        "avg_bars_in_losing_trades_short", "net_profit_as_largest_loss_short",
        "annualized_return",  # the book spans 16 days: too short to annualise
    }
    assert {k for k, v in book.items() if v is None} == NOT_COMPUTED | undefined


def test_money_totals_and_percent_of_initial_capital(book):
    # net 100 - 50 + 30 + 0 + 20 = 100; gross profit 150; gross loss 50 (a magnitude)
    assert book["initial_capital"] == 1000.0
    assert book["net_profit"] == pytest.approx(100.0)
    assert book["net_profit_percent"] == pytest.approx(10.0)
    assert book["gross_profit"] == pytest.approx(150.0)
    assert book["gross_profit_percent"] == pytest.approx(15.0)
    assert book["gross_loss"] == pytest.approx(50.0)
    assert book["gross_loss_percent"] == pytest.approx(5.0)
    assert book["return_on_initial_capital"] == pytest.approx(10.0)
    # long: 100 - 50 + 20; short: 30 + 0
    assert book["net_profit_long"] == pytest.approx(70.0)
    assert book["net_profit_long_percent"] == pytest.approx(7.0)
    assert book["gross_loss_long"] == pytest.approx(50.0)
    assert book["net_profit_short"] == pytest.approx(30.0)
    assert book["gross_profit_short_percent"] == pytest.approx(3.0)
    assert book["gross_loss_short"] == 0.0
    assert book["return_on_initial_capital_short"] == pytest.approx(3.0)


def test_counts_and_percent_profitable(book):
    assert (book["total_trades"], book["winning_trades"], book["losing_trades"],
            book["even_trades"]) == (5, 3, 1, 1)
    assert book["percent_profitable"] == pytest.approx(60.0)
    assert (book["total_trades_long"], book["winning_trades_long"]) == (3, 2)
    assert book["percent_profitable_long"] == pytest.approx(200 / 3)
    assert (book["total_trades_short"], book["even_trades_short"]) == (2, 1)
    assert book["percent_profitable_short"] == pytest.approx(50.0)


def test_averages_ratio_and_largest(book):
    assert book["avg_trade"] == pytest.approx(20.0)  # 100 / 5
    assert book["avg_trade_percent"] == pytest.approx(2.0)  # (10 - 5 + 3 + 0 + 2) / 5
    assert book["avg_winning_trade"] == pytest.approx(50.0)  # 150 / 3
    assert book["avg_winning_trade_percent"] == pytest.approx(5.0)  # (10 + 3 + 2) / 3
    assert book["avg_losing_trade"] == pytest.approx(50.0)
    assert book["avg_losing_trade_percent"] == pytest.approx(5.0)
    assert book["ratio_avg_win_loss"] == pytest.approx(1.0)
    assert book["largest_winning_trade"] == pytest.approx(100.0)
    assert book["largest_winning_trade_percent"] == pytest.approx(10.0)
    assert book["largest_losing_trade"] == pytest.approx(50.0)
    assert book["largest_losing_trade_percent"] == pytest.approx(5.0)
    assert book["avg_trade_long"] == pytest.approx(70 / 3)
    assert book["avg_trade_long_percent"] == pytest.approx(7 / 3)  # (10 - 5 + 2) / 3
    assert book["avg_winning_trade_long"] == pytest.approx(60.0)
    assert book["ratio_avg_win_loss_long"] == pytest.approx(1.2)  # 60 / 50
    assert book["largest_winning_trade_short_percent"] == pytest.approx(3.0)


def test_avg_bars_are_whole_bars_rounded_half_up(book):
    # bars: 4 (win), 2 (loss), 3 (win, short), 1 (even, short), 5 (win); the open one not
    assert book["avg_bars_in_trades"] == 3  # 15 / 5
    assert book["avg_bars_in_winning_trades"] == 4  # 12 / 3
    assert book["avg_bars_in_losing_trades"] == 2
    assert book["avg_bars_in_trades_long"] == 4  # 11 / 3 = 3.67
    assert book["avg_bars_in_winning_trades_long"] == 5  # 9 / 2 = 4.5, half up
    assert book["avg_bars_in_trades_short"] == 2  # 4 / 2
    assert book["avg_bars_in_losing_trades_short"] is None
    assert isinstance(book["avg_bars_in_trades"], int)


def test_profit_factor_and_undefined_loss_metrics(book):
    assert book["profit_factor"] == pytest.approx(3.0)  # 150 / 50
    assert book["profit_factor_long"] == pytest.approx(2.4)  # 120 / 50
    # shorts never lost: everything that divides by losses is undefined, not inf
    assert book["profit_factor_short"] is None
    assert book["avg_losing_trade_short"] is None
    assert book["avg_losing_trade_short_percent"] is None
    assert book["largest_losing_trade_short"] is None
    assert book["ratio_avg_win_loss_short"] is None
    assert book["losing_trades_short"] == 0


def test_open_trade_counts_only_in_open_pl_and_open_trades(book):
    assert book["total_open_trades"] == 1
    assert book["total_open_trades_long"] == 1
    assert book["total_open_trades_short"] == 0
    assert book["open_pl"] == pytest.approx(40.0)
    assert book["open_pl_percent"] == pytest.approx(4.0)
    assert book["open_pl_short"] == 0.0
    assert book["total_trades"] == 5  # the open trade is not a closed trade


def test_commission_of_closed_trades_only_and_margin_calls(book):
    assert book["commission_paid"] == pytest.approx(15.0)  # 1 + 2 + 3 + 4 + 5, not the 7
    assert book["commission_paid_long"] == pytest.approx(8.0)
    assert book["commission_paid_short"] == pytest.approx(7.0)
    assert book["margin_calls"] == 2
    assert book["margin_calls_long"] is None


def test_derived_ratios(book):
    # realised peak 1100 from bar 4; closes fall to 1050 on bars 6-8: max drawdown 50
    assert book["max_drawdown"] == pytest.approx(50.0)
    assert book["return_of_max_drawdown"] == pytest.approx(2.0)  # 100 / 50
    assert book["net_profit_as_largest_loss"] == pytest.approx(200.0)  # 100 / 50 x 100
    assert book["net_profit_as_largest_loss_long"] == pytest.approx(140.0)  # 70 / 50 x 100
    # the price never moved: buy & hold 0, so the strategy is 100 (10 %) ahead
    assert book["buy_hold_return"] == 0.0
    assert book["strategy_outperformance"] == pytest.approx(100.0)
    assert book["strategy_outperformance_percent"] == pytest.approx(10.0)


def test_no_bars_at_all():
    m = compute_metrics((), EquityCurve(), initial_capital=1000.0)
    assert m["net_profit"] == 0.0
    assert m["max_drawdown"] is None
    assert m["buy_hold_return"] is None
    assert m["annualized_return"] is None
    assert m["sharpe_ratio"] is None


def test_no_trades():
    m = compute_metrics((), curve([1000.0] * 5), initial_capital=1000.0)
    assert m["net_profit"] == 0.0
    assert m["total_trades"] == 0
    assert m["percent_profitable"] is None
    assert m["avg_trade"] is None
    assert m["avg_trade_percent"] is None
    assert m["avg_bars_in_trades"] is None
    assert m["profit_factor"] is None
    assert m["max_contracts_held"] == 0.0
    assert m["max_drawdown"] == 0.0
    assert m["sharpe_ratio"] is None  # flat equity: zero deviation


# --------------------------------------------------------------------------- equity

# Trade A (long) runs bars 0-2 and books +100 on bar 2; trade B (long) opens on bar 3 and is
# still open at the end, 80 down. Open paper profit (1180 on bar 4) never lifts the peak.
DD_TRADES = (trade(1, "long", 0, 2, 100.0, 10.0), trade(2, "long", 3, None, -80.0, -7.0))
DD_CURVE = curve(
    equity=[1020.0, 1060.0, 1100.0, 1070.0, 1150.0, 1020.0],
    low=[990.0, 1040.0, 1100.0, 1040.0, 1120.0, 1000.0],
    high=[1030.0, 1090.0, 1100.0, 1105.0, 1180.0, 1160.0],
)


def test_drawdown_intrabar_from_realised_peak_differs_from_close_to_close():
    m = compute_metrics(DD_TRADES, DD_CURVE, initial_capital=1000.0)
    # realised equity 1000, 1000, 1100, 1100, 1100, 1100 -> peak the same;
    # peak - low: 10, 0, 0, 60, 0, 100 -> 100 on bar 5; percents 1 %, 60/1100, 100/1100
    assert m["max_drawdown"] == pytest.approx(100.0)
    assert m["max_drawdown_percent"] == pytest.approx(100 / 1100 * 100)
    assert m["max_drawdown_of_initial_capital"] == pytest.approx(10.0)
    # closes from 1000: 1000 1020 1060 1100 1070 1150 1020 -> 1150 - 1020 = 130
    assert m["max_drawdown_close_to_close"] == pytest.approx(130.0)
    assert m["max_drawdown_close_to_close_percent"] == pytest.approx(130 / 1150 * 100)


def test_runup_intrabar_and_close_to_close():
    m = compute_metrics(DD_TRADES, DD_CURVE, initial_capital=1000.0)
    # realised low-water mark stays 1000; high - 1000 peaks at 1180 - 1000 = 180
    assert m["max_runup"] == pytest.approx(180.0)
    assert m["max_runup_percent"] == pytest.approx(180 / 1180 * 100)
    assert m["max_runup_of_initial_capital"] == pytest.approx(18.0)
    # closes: 1150 - 1000 = 150, percent of the top reached
    assert m["max_runup_close_to_close"] == pytest.approx(150.0)
    assert m["max_runup_close_to_close_percent"] == pytest.approx(150 / 1150 * 100)


def test_runup_starts_from_realised_low_water_mark():
    # A loses 100, booked on bar 1 (flat at 900); B enters on bar 2 and marks 960 at best.
    # The paper low of 950 on bar 0 is not a trough: runups 1010 - 1000, 0, 960 - 900 = 60.
    trades = (trade(1, "long", 0, 1, -100.0, -10.0), trade(2, "long", 2, None, 50.0, 5.0))
    c = curve([980.0, 900.0, 950.0], low=[950.0, 900.0, 900.0], high=[1010.0, 900.0, 960.0])
    m = compute_metrics(trades, c, initial_capital=1000.0)
    assert m["max_runup"] == pytest.approx(60.0)
    assert m["max_runup_percent"] == pytest.approx(60 / 960 * 100)


def test_drawdown_from_a_peak_booked_in_the_same_bar():
    # Reversal on bar 1: long A closes at its open (+100, realised 1100) and short B, opened
    # there, marks 1040 at worst: 1100 - 1040 = 60 (bar 0 gave only 1000 - 990).
    trades = (trade(1, "long", 0, 1, 100.0, 10.0), trade(2, "short", 1, None, -20.0, -2.0))
    c = curve([1050.0, 1080.0], low=[990.0, 1040.0], high=[1060.0, 1110.0])
    m = compute_metrics(trades, c, initial_capital=1000.0)
    assert m["max_drawdown"] == pytest.approx(60.0)
    assert m["max_drawdown_percent"] == pytest.approx(60 / 1100 * 100)
    assert m["max_runup"] == pytest.approx(110.0)
    assert m["max_runup_percent"] == pytest.approx(110 / 1110 * 100)


def test_drawdown_percent_is_maximised_on_its_own():
    # A doubles the account on bar 1; B then loses 100 of 2000 (5 %), less than the
    # 60 of 1000 (6 %) lost on bar 0, so money and percent maxima come from different bars.
    trades = (trade(1, "long", 0, 1, 1000.0, 100.0), trade(2, "long", 1, None, -100.0, -5.0))
    m = compute_metrics(trades, curve([940.0, 2000.0, 1900.0]), initial_capital=1000.0)
    assert m["max_drawdown"] == pytest.approx(100.0)
    assert m["max_drawdown_percent"] == pytest.approx(6.0)
    assert m["max_drawdown_close_to_close"] == pytest.approx(100.0)
    assert m["max_drawdown_close_to_close_percent"] == pytest.approx(6.0)


def test_buy_and_hold_from_first_trading_close_to_last_close():
    m = compute_metrics((), curve([1000.0] * 3, close=[100.0, 90.0, 120.0]),
                        initial_capital=1000.0)
    assert m["buy_hold_return_percent"] == pytest.approx(20.0)
    assert m["buy_hold_return"] == pytest.approx(200.0)


def test_max_contracts_held_with_pyramiding():
    trades = (
        trade(1, "long", 0, 5, 1.0, qty=1.0),
        trade(2, "long", 2, 6, 1.0, qty=2.0),  # pyramided onto 1: 3 held on bars 2-4
        trade(3, "long", 5, 8, 1.0, qty=3.0),  # 1 leaves as 3 enters on bar 5: 2 + 3 = 5
        trade(4, "short", 8, 9, 1.0, qty=4.0),  # reversal on bar 8
        trade(5, "short", 9, 9, 1.0, qty=6.0),  # in and out on bar 9 (4 is gone)
        trade(6, "long", 10, None, 0.0, qty=1.0),
    )
    m = compute_metrics(trades, curve([1000.0] * 12), initial_capital=1000.0)
    assert m["max_contracts_held_long"] == pytest.approx(5.0)
    assert m["max_contracts_held_short"] == pytest.approx(6.0)
    assert m["max_contracts_held"] == pytest.approx(6.0)


def test_annualized_return_over_the_window():
    # four bars half a year apart: open of the first to close of the last = 2 years
    half_year = 15_778_800_000
    times = [JAN_1_2024_MS + i * half_year for i in range(4)]
    c = curve([1000.0, 1050.0, 1100.0, 1210.0], times=times)
    m = compute_metrics((), c, initial_capital=1000.0)
    assert m["annualized_return"] == pytest.approx(10.0)  # 1.21 ** (1 / 2) - 1


def test_annualized_return_from_thirty_days_on():
    # 30 daily bars span 30 days (open of the first to close of the last): reported
    month = curve([1000.0] * 29 + [1100.0])
    m = compute_metrics((), month, initial_capital=1000.0)
    assert MIN_ANNUALISED_DAYS == 30
    assert m["annualized_return"] == pytest.approx((1.1 ** (365.25 / 30) - 1) * 100)
    # 29 days: not meaningful
    short = compute_metrics((), curve([1000.0] * 28 + [1100.0]), initial_capital=1000.0)
    assert short["annualized_return"] is None


def test_annualized_return_of_seconds_bars_is_none_not_an_overflow():
    # 300 bars 4 s apart gaining 50 %: the old (1.5 ** (year / 20 min)) raised OverflowError
    times = [JAN_1_2024_MS + i * 4_000 for i in range(300)]
    c = curve([1000.0] * 299 + [1500.0], times=times)
    m = compute_metrics((), c, initial_capital=1000.0)
    assert m["annualized_return"] is None
    assert m["net_profit"] == 0.0  # the rest is still computed


def test_annualized_return_beyond_a_float_is_none():
    # 1e300 x growth over half a year squares to 1e600 % a year: no float holds it
    times = [JAN_1_2024_MS, JAN_1_2024_MS + 91 * DAY_MS]
    m = compute_metrics((), curve([1000.0, 1e303], times=times), initial_capital=1000.0)
    assert m["annualized_return"] is None
    # a loss that big is fine: -100 % at most
    lost = compute_metrics((), curve([1000.0, 1e-300], times=times), initial_capital=1000.0)
    assert lost["annualized_return"] == pytest.approx(-100.0)


def test_extreme_equity_never_raises_or_warns():
    # sums and excursions overflow numpy floats: undefined (None), not an error or a warning
    # (warnings are errors in this test suite)
    trades = (trade(1, "long", 0, 1, 1.7e308, 10.0), trade(2, "long", 1, 2, 1.7e308, 10.0),
              trade(3, "short", 2, 3, -1.7e308, -10.0))
    huge = [1e3, 1.7e308, 1.7e308, -1.7e308, 1.7e308] * 20
    times = [JAN_1_2024_MS + i * 3 * DAY_MS for i in range(len(huge))]
    m = compute_metrics(trades, curve(huge, times=times), initial_capital=1000.0)
    assert all(v is None or isinstance(v, (int, str)) or math.isfinite(v) for v in m.values())
    assert m["gross_profit"] is None  # 3.4e308: beyond a float
    assert m["annualized_return"] is None  # final equity 1.7e308 after 300 days


# Four months, two bars a month (UTC noon). Month-end equity 1100, 1045, 1149.5, 1149.5.
MONTH_TIMES = [ms(d + "T12:00") for d in (
    "2024-01-02", "2024-01-31", "2024-02-15", "2024-02-29",
    "2024-03-15", "2024-03-31", "2024-04-15", "2024-04-30")]
MONTH_EQUITY = [1050.0, 1100.0, 1080.0, 1045.0, 1100.0, 1149.5, 1160.0, 1149.5]


def test_sharpe_and_sortino_monthly():
    # R = 1100/1000 - 1, 1045/1100 - 1, 1149.5/1045 - 1, 0 = 0.10, -0.05, 0.10, 0.0
    # mean 0.0375; rfr = 0.02 / 12 = 0.0016667; excess mean = 0.0358333
    # population std: deviations 0.0625, -0.0875, 0.0625, -0.0375;
    #   variance = (0.00390625 + 0.00765625 + 0.00390625 + 0.00140625) / 4 = 0.00421875
    #   std = 0.0649519 -> Sharpe = 0.0358333 / 0.0649519 = 0.551690
    # downside: min(0, R - rfr) = 0, -0.0516667, 0, -0.0016667;
    #   DD = sqrt((0.0026694 + 0.0000028) / 4) = 0.0258468 -> Sortino = 1.386376
    c = curve(MONTH_EQUITY, times=MONTH_TIMES)
    m = compute_metrics((), c, initial_capital=1000.0)
    assert m["sharpe_ratio"] == pytest.approx(0.5516902572)
    assert m["sortino_ratio"] == pytest.approx(1.3863756425)
    rfr_5 = compute_metrics((), c, initial_capital=1000.0, risk_free_rate=5.0)
    assert rfr_5["sharpe_ratio"] == pytest.approx((0.0375 - 0.05 / 12) / math.sqrt(0.00421875))


def test_sharpe_months_follow_the_timezone():
    # A bar at 2024-02-01 03:00 UTC is still January 31 in New York.
    times = [*MONTH_TIMES[:2], ms("2024-02-01T03:00"), *MONTH_TIMES[2:]]
    equity = [*MONTH_EQUITY[:2], 1045.0, *MONTH_EQUITY[2:]]
    c = curve(equity, times=times)
    utc = compute_metrics((), c, initial_capital=1000.0)
    assert utc["sharpe_ratio"] == pytest.approx(0.5516902572)  # month ends unchanged
    # New York month ends 1045, 1045, 1149.5, 1149.5 -> R = 0.045, 0, 0.10, 0
    # mean 0.03625, std 0.0411362 -> (0.03625 - 0.0016667) / 0.0411362 = 0.840703
    new_york = compute_metrics((), c, initial_capital=1000.0, timezone="America/New_York")
    assert new_york["sharpe_ratio"] == pytest.approx(0.8407030236)


def test_sharpe_daily_when_window_is_shorter_than_three_months():
    # daily R = 0.01, -0.0099010, 0.02, 0; rfr = 0.02 / 365
    m = compute_metrics((), curve([1010.0, 1000.0, 1020.0, 1020.0]), initial_capital=1000.0)
    assert m["sharpe_ratio"] == pytest.approx(0.4458495438)
    assert m["sortino_ratio"] == pytest.approx(0.9983909601)
    # under three days there is no Sharpe at all
    short = compute_metrics((), curve([1010.0, 1000.0, 1020.0]), initial_capital=1000.0)
    assert short["sharpe_ratio"] is None
    assert short["sortino_ratio"] is None


def test_first_bar_excludes_warm_up_bars():
    # bars 0-2 warm up (odd equity and prices there must not count); A trades bars 3-5
    trades = (trade(1, "long", 3, 5, 100.0, 10.0),)
    c = curve(
        equity=[1000.0, 1000.0, 1000.0, 1000.0, 1050.0, 1100.0],
        low=[900.0, 900.0, 900.0, 990.0, 1030.0, 1100.0],
        high=[1300.0, 1300.0, 1300.0, 1010.0, 1060.0, 1110.0],
        close=[50.0, 50.0, 50.0, 100.0, 105.0, 110.0],
    )
    m = compute_metrics(trades, c, initial_capital=1000.0, first_bar=3)
    assert m["max_drawdown"] == pytest.approx(10.0)  # 1000 - 990, not 1000 - 900
    assert m["max_runup"] == pytest.approx(110.0)  # 1110 - 1000, not 1300 - 1000
    assert m["max_drawdown_close_to_close"] == 0.0
    assert m["buy_hold_return_percent"] == pytest.approx(10.0)  # 100 -> 110, not from 50
    # window: open of bar 3 to close of bar 5 = 3 days, under 30: no annualised return
    assert m["annualized_return"] is None
    assert m["sharpe_ratio"] is None  # bars 3-5 span 2 days: too short
    whole = compute_metrics(trades, c, initial_capital=1000.0)
    assert whole["max_drawdown"] == pytest.approx(100.0)
    assert whole["buy_hold_return_percent"] == pytest.approx(120.0)
    assert whole["sharpe_ratio"] is not None


def test_inconsistent_input_is_refused():
    c = curve([1000.0] * 3)
    with pytest.raises(ValueError, match="trade #1"):
        closed_without_exit = Trade(1, "long", T0, 100.0, 1.0, profit=5.0, entry_bar=0)
        compute_metrics((closed_without_exit,), c, initial_capital=1000.0)
    with pytest.raises(ValueError, match="trade #2"):
        compute_metrics((trade(2, "long", 0, 7, 5.0),), c, initial_capital=1000.0)
    with pytest.raises(ValueError, match="trade #3"):
        compute_metrics((trade(3, "long", 2, 1, 5.0),), c, initial_capital=1000.0)
    with pytest.raises(ValueError, match="first_bar"):
        compute_metrics((), c, initial_capital=1000.0, first_bar=3)
