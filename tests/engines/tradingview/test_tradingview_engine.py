"""The TradingView engine driving a real headless Chromium against the fake TradingView site.

No real TradingView: the fake site (tests/fake_tradingview) serves the sign-in with TOTP,
the chart with a real Monaco editor, the Strategy report with stale numbers first, snackbars,
the date-range and settings dialogs (a virtual list), pop-ups and the XLSX export.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from tv_fixtures import SMA, engine_for, sma_request

from tvdesk import paths
from tvdesk.config import TradingViewSettings
from tvdesk.engines.local import LocalEngine
from tvdesk.engines.tradingview import TradingViewEngine
from tvdesk.engines.tradingview.errors import CaptchaRequired, StaleExport, StepFailed
from tvdesk.engines.tradingview.session import Credentials
from tvdesk.errors import PineError
from tvdesk.model import BacktestRequest, Strategy

from fake_tradingview import FakeTradingView

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "resources" / "data" / "EURUSD_1h.csv"


def test_a_run_matches_the_export_and_the_local_engine(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    request = sma_request("Fast Length=12", "Allow Shorts=on", date_from="2017-06-01",
                          date_to="2017-12-31")

    async def main() -> tuple:
        async with engine_for(fake_tv, chromium_path) as engine:
            tv = await engine.run(request)
        local_request = replace(request, data_path=str(DATA))
        async with LocalEngine(processes=1) as local:
            return tv, await local.run(local_request)

    tv, local = asyncio.run(main())
    assert tv.source == "tradingview"
    assert tv.properties["inputs"]["Fast Length"] == 12
    assert tv.properties["inputs"]["Allow Shorts"] is True
    assert tv.properties["symbol"] == "FX:EURUSD"
    export = Path(tv.properties["export_file"])
    assert export.parent == paths.data_dir() / "sheets"
    assert export.exists()
    # The fake site computes with the same engine, so TradingView's export and a local run
    # of the same request must agree trade for trade.
    assert len(tv.trades) == len(local.trades) > 0
    assert tv.metrics["net_profit"] == pytest.approx(local.metrics["net_profit"], abs=0.01)
    assert fake_tv.password_logins == 1
    sent = fake_tv.backtests[-1]
    assert sent["date_from"] == "2017-06-01" and sent["date_to"] == "2017-12-31"
    assert sent["interval"] == "60"
    assert all(lang.startswith("en") for lang in fake_tv.accept_languages)


def test_second_engine_reuses_the_session(home: Path, fake_tv: FakeTradingView,
                                          chromium_path: str) -> None:
    async def start_twice() -> list[str]:
        outcomes = []
        for _ in range(2):
            engine = engine_for(fake_tv, chromium_path)
            try:
                outcomes.append(await engine.start())
            finally:
                await engine.close()
        return outcomes

    assert asyncio.run(start_twice()) == ["logged in", "session reused"]
    assert fake_tv.password_logins == 1 and fake_tv.signin_attempts == 1


def test_an_expired_session_logs_in_again_once(home: Path, fake_tv: FakeTradingView,
                                               chromium_path: str) -> None:
    async def main() -> object:
        engine = engine_for(fake_tv, chromium_path)
        try:
            await engine.start()
        finally:
            await engine.close()
        fake_tv.expire_sessions()  # the kept cookie is stale now
        async with engine_for(fake_tv, chromium_path) as engine:
            return await engine.run(sma_request("Fast Length=9"))

    result = asyncio.run(main())
    assert result.properties["inputs"]["Fast Length"] == 9  # type: ignore[attr-defined]
    assert fake_tv.password_logins == 2


def test_two_pages_in_parallel_each_get_their_own_inputs(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    requests = [sma_request(f"Fast Length={n}") for n in (8, 15)]

    async def main() -> list:
        async with engine_for(fake_tv, chromium_path, pages=2) as engine:
            return list(await asyncio.gather(*(engine.run(r) for r in requests)))

    results = asyncio.run(main())
    assert [r.properties["inputs"]["Fast Length"] for r in results] == [8, 15]
    assert results[0].metrics["net_profit"] != results[1].metrics["net_profit"]
    assert fake_tv.password_logins == 1
    tokens = {r.properties["run_token"] for r in results}
    assert len(tokens) == 2  # each page loaded the script itself


def test_inputs_only_change_reuses_the_loaded_script_and_reverts_defaults(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    async def main() -> list:
        async with engine_for(fake_tv, chromium_path) as engine:
            return [await engine.run(sma_request("Slow Length=40")),
                    await engine.run(sma_request("Fast Length=6"))]

    first, second = asyncio.run(main())
    assert first.properties["run_token"] == second.properties["run_token"]
    assert second.properties["inputs"]["Slow Length"] == 30  # back to the default
    assert second.properties["inputs"]["Fast Length"] == 6


def test_properties_are_set_in_the_settings_dialog(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    request = replace(sma_request(), settings=(
        ("initial_capital", 25000), ("commission_value", 0.1),
        ("default_qty_type", "strategy.fixed"), ("default_qty_value", 3), ("pyramiding", 2)))

    async def main() -> object:
        async with engine_for(fake_tv, chromium_path) as engine:
            return await engine.run(request)

    result = asyncio.run(main())
    sent = fake_tv.backtests[-1]["properties"]
    assert float(sent["initial_capital"]) == 25000 and float(sent["commission"]) == 0.1
    assert sent["order_size_type"] == "Contracts" and float(sent["order_size"]) == 3
    assert float(sent["pyramiding"]) == 2
    assert result.metrics["initial_capital"] == 25000  # type: ignore[attr-defined]
    echo = result.properties  # type: ignore[attr-defined]
    assert echo["order_size"] == "3 Contracts" and echo["pyramiding"] == 2
    assert {t.qty for t in result.trades} == {3.0}  # type: ignore[attr-defined]


def test_every_property_set_is_checked_against_the_exports_echo() -> None:
    from tvdesk.engines.tradingview.run import property_echo_problems

    echo = {"order_size": "50 % of equity", "pyramiding": 1, "commission": "0.1 %",
            "slippage": "2 ticks"}
    assert property_echo_problems(echo, {"default_qty_type": "strategy.percent_of_equity",
                                         "default_qty_value": 50, "pyramiding": 1,
                                         "commission_value": 0.1, "slippage": 2}) == []
    problems = property_echo_problems(echo, {"default_qty_type": "strategy.cash",
                                             "default_qty_value": 40, "pyramiding": 3})
    assert len(problems) == 3
    assert any("order size '50 % of equity'" in p and "expected 40" in p for p in problems)
    assert any("pyramiding 1" in p for p in problems)
    assert any("expected a size in the account currency" in p for p in problems)


def test_a_range_or_property_left_open_goes_back_to_the_default(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    narrowed = replace(sma_request(date_from="2017-06-01", date_to="2017-12-31"),
                       settings=(("initial_capital", 25000),))

    async def main() -> list:
        async with engine_for(fake_tv, chromium_path) as engine:
            return [await engine.run(narrowed), await engine.run(sma_request())]

    first, second = asyncio.run(main())
    assert first.metrics["initial_capital"] == 25000
    sent = fake_tv.backtests[-1]
    assert sent["date_from"] is None and sent["date_to"] is None
    assert "initial_capital" not in sent["properties"]
    assert second.metrics["initial_capital"] == 10000  # the script's own strategy() value
    assert len(second.trades) > len(first.trades)


def test_compile_error_on_tradingview_names_the_line(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    good = SMA.read_text()
    bad = good.replace("fast = ta.sma(close, fastLen)", "fast = ta.sma(close, fastLen")
    line = next(i for i, text in enumerate(bad.splitlines(), 1) if "fastLen\n" in text + "\n"
                and text.startswith("fast ="))
    request = sma_request()
    request = BacktestRequest(strategy=Strategy(source=bad, title="SMA Cross",
                                                inputs=request.strategy.inputs),
                              symbol=request.symbol)

    async def main() -> None:
        async with engine_for(fake_tv, chromium_path) as engine:
            await engine.run(request)

    with pytest.raises(PineError) as caught:
        asyncio.run(main())
    assert "TradingView could not compile" in str(caught.value)
    assert caught.value.line is not None and abs(caught.value.line - line) <= 1


def test_stale_export_is_retried_once_then_refused(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    async def main() -> tuple:
        async with engine_for(fake_tv, chromium_path) as engine:
            await engine.run(sma_request("Fast Length=9"))
            before = len(fake_tv.exports)
            fake_tv.stale_exports = 1
            fresh = await engine.run(sma_request("Fast Length=11"))
            retried = len(fake_tv.exports) - before
            fake_tv.stale_exports = 2
            try:
                await engine.run(sma_request("Fast Length=13"))
            except StaleExport as exc:
                return fresh, retried, exc
            return fresh, retried, None

    fresh, retried, error = asyncio.run(main())
    assert fresh.properties["inputs"]["Fast Length"] == 11
    assert retried == 2
    assert error is not None and "'Fast Length'" in str(error) and "expected 13" in str(error)


def test_changed_selector_fails_with_the_step_and_saves_diagnostics(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    fake_tv.broken = {"add_to_chart"}

    async def main() -> TradingViewEngine:
        engine = engine_for(fake_tv, chromium_path)
        try:
            await engine.run(sma_request())
        finally:
            await engine.close()
        return engine

    with pytest.raises(StepFailed) as caught:
        asyncio.run(main())
    message = str(caught.value)
    assert "'add_to_chart'" in message and "[data-qa-id='add-script-to-chart']" in message
    assert "tvdesk tv check" in message
    folder = Path(caught.value.diagnostics or "")
    pngs, pages = list(folder.glob("*add_to_chart.png")), list(folder.glob("*add_to_chart.html"))
    assert pngs and pages
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = pages[0].read_text()
    assert "apply-v2" in html  # the page as it was: the renamed button is there
    assert fake_tv.password not in html


def test_captcha_stops_at_once_and_never_retries(home: Path, fake_tv: FakeTradingView,
                                                 chromium_path: str) -> None:
    fake_tv.captcha = True

    async def main() -> None:
        engine = engine_for(fake_tv, chromium_path)
        try:
            await engine.start()
        finally:
            await engine.close()

    with pytest.raises(CaptchaRequired) as caught:
        asyncio.run(main())
    assert "captcha" in str(caught.value) and "--show-browser" in str(caught.value)
    assert fake_tv.signin_attempts == 1


def test_too_many_attempts_is_a_captcha_stop(home: Path, fake_tv: FakeTradingView,
                                             chromium_path: str) -> None:
    fake_tv.too_many_attempts = True

    async def main() -> None:
        async with engine_for(fake_tv, chromium_path) as engine:
            await engine.start()

    with pytest.raises(CaptchaRequired, match=r"(?i)too many attempts.*captcha"):
        asyncio.run(main())
    assert fake_tv.signin_attempts == 1


def test_captcha_handed_to_the_user_who_finishes_the_login(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    fake_tv.captcha = True

    async def main() -> str:
        engine = engine_for(fake_tv, chromium_path, hand_login=True)

        async def human() -> None:
            while fake_tv.signin_attempts < 1:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            fake_tv.solve_captcha()

        helper = asyncio.ensure_future(human())
        try:
            return await engine.start()
        finally:
            await helper
            await engine.close()

    assert asyncio.run(main()) == "logged in by hand"
    assert fake_tv.signin_attempts == 1


def test_a_dead_page_is_reopened_and_the_run_goes_on(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    async def main() -> tuple:
        async with engine_for(fake_tv, chromium_path) as engine:
            first = await engine.run(sma_request("Fast Length=7"))
            slot = engine._idle._queue[0]  # type: ignore[union-attr]
            await engine._thread.call(slot.page.close())  # type: ignore[union-attr]
            second = await engine.run(sma_request("Fast Length=14"))
            return first, second

    first, second = asyncio.run(main())
    assert second.properties["inputs"]["Fast Length"] == 14
    assert second.properties["run_token"] != first.properties["run_token"]


def test_deep_backtesting_update_button_and_no_monaco_global(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    fake_tv.deep_backtesting = True
    fake_tv.expose_monaco = False

    async def main() -> object:
        async with engine_for(fake_tv, chromium_path) as engine:
            return await engine.run(sma_request("Fast Length=10", date_from="2017-09-01"))

    result = asyncio.run(main())
    assert result.properties["inputs"]["Fast Length"] == 10  # type: ignore[attr-defined]
    assert fake_tv.backtests[-1]["date_from"] == "2017-09-01"


def test_cancelling_a_run_leaves_the_engine_usable(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    async def main() -> object:
        async with engine_for(fake_tv, chromium_path) as engine:
            task = asyncio.ensure_future(engine.run(sma_request("Fast Length=5")))
            while not fake_tv.backtests:  # the event: the chart asked for its backtest
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return await engine.run(sma_request("Fast Length=16"))

    result = asyncio.run(main())
    assert result.properties["inputs"]["Fast Length"] == 16  # type: ignore[attr-defined]


def test_an_engine_closed_and_used_again_starts_afresh(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    engine = engine_for(fake_tv, chromium_path)

    async def twice() -> list:
        results = []
        for fast in (6, 7):
            try:
                results.append(await engine.run(sma_request(f"Fast Length={fast}")))
            finally:
                await engine.close()
        return results

    first, second = asyncio.run(twice())
    assert [r.properties["inputs"]["Fast Length"] for r in (first, second)] == [6, 7]
    assert engine.login_outcome == "session reused"


def test_a_refused_login_is_not_tried_again_by_later_runs(
        home: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
    from tvdesk.engines.tradingview.errors import LoginFailed

    settings = TradingViewSettings(browser=chromium_path, pause_seconds=(0.0, 0.0),
                                   step_timeout=10.0, report_timeout=30.0)
    wrong = Credentials(fake_tv.username, "not-the-password", fake_tv.totp_secret)
    engine = TradingViewEngine(settings, credentials=lambda: wrong, notify=lambda m: None)

    async def three_runs() -> list[str]:
        errors = []
        try:
            for _ in range(3):
                try:
                    await engine.run(sma_request())
                except LoginFailed as exc:
                    errors.append(str(exc))
        finally:
            await engine.close()
        return errors

    errors = asyncio.run(three_runs())
    assert len(errors) == 3 and "Invalid username or password" in errors[0]
    assert fake_tv.signin_attempts == 1  # one attempt; the later runs fail at once
