"""The real site's surprises on the fake one.

- Offers that are aria-modal, take the keyboard focus and open at random moments (right at
  chart load, while the report's date range is probed, while a fresh report is awaited):
  tvdesk closes them wherever they appear, never types into them, and reports what it met.
- Layouts that TradingView autosaves: tvdesk works on a layout of its own, created once per
  browser profile and reused, and never changes the trader's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tv_fixtures import engine_for, sma_request

from tvdesk.app.tradingview import check_rows, format_check_table

from fake_tradingview import FakeTradingView

pytestmark = pytest.mark.usefixtures("home")

DATA = Path(__file__).resolve().parents[3] / "resources" / "data" / "EURUSD_1h.csv"


def test_focus_stealing_modals_are_closed_and_never_typed_into(
        fake_tv: FakeTradingView, chromium_path: str) -> None:
    fake_tv.focus_modals = True
    # The first offer is up before tvdesk types the interval; the others come at the fake's
    # seeded moments (while the report's range is probed, after the settings are applied).
    fake_tv._delays["modal_chart_ms"] = 0
    request = sma_request("Fast Length=12", date_from="2017-06-01", date_to="2017-12-31")

    async def main() -> tuple:
        async with engine_for(fake_tv, chromium_path) as engine:
            first = await engine.run(request)
            second = await engine.run(sma_request("Fast Length=9", date_from="2017-06-01",
                                                  date_to="2017-12-31"))
            return first, second, engine.step_log, engine.book

    first, second, step_log, book = asyncio.run(main())
    assert first.properties["inputs"]["Fast Length"] == 12
    assert second.properties["inputs"]["Fast Length"] == 9
    assert fake_tv.backtests[-1]["interval"] == "60"
    events = list(fake_tv.events)
    shown = {e.split(":")[1] for e in events if e.startswith("modal-shown:")}
    assert {"Unlock more with Premium", "A special offer for you"} <= shown
    assert not [e for e in events if e.startswith(("modal-keys", "modal-accepted"))], events
    closed = {e.split(":")[1] for e in events if e.startswith("modal-closed:")}
    assert shown <= closed
    assert sum(step_log.unknown_modals.values()) >= len(shown)
    table = format_check_table(check_rows(step_log, book), step_log)
    assert "A special offer for you" in table and "closed" in table


def test_runs_happen_on_tvdesks_own_layout_never_on_the_traders(
        fake_tv: FakeTradingView, chromium_path: str, home: Path) -> None:
    from fake_tradingview.server import LAYOUT_ID

    async def one_engine(*inputs: str) -> None:
        async with engine_for(fake_tv, chromium_path) as engine:
            await engine.run(sma_request(*inputs))

    asyncio.run(one_engine("Fast Length=12"))
    created = [name for layout, name in fake_tv.layouts.items() if layout != LAYOUT_ID]
    assert created == ["tvdesk"]
    (own,) = [layout for layout in fake_tv.layouts if layout != LAYOUT_ID]
    asyncio.run(one_engine("Fast Length=9"))  # a later process: the same layout again
    assert len(fake_tv.layouts) == 2
    changes = [e for e in fake_tv.events if e.startswith("layout-change:")]
    assert changes and all(e.startswith(f"layout-change:{own}:") for e in changes), changes
    remembered = list(home.rglob("*-layout.json"))
    assert len(remembered) == 1 and own in remembered[0].read_text()

    del fake_tv.layouts[own]  # deleted on the site: made again, the trader's still untouched
    asyncio.run(one_engine("Fast Length=7"))
    assert len(fake_tv.layouts) == 2 and own not in fake_tv.layouts
    assert not [e for e in fake_tv.events if e.startswith(f"layout-change:{LAYOUT_ID}:")]


def test_a_page_without_a_layout_menu_is_worked_on_as_it_opened_and_said_so(
        fake_tv: FakeTradingView, chromium_path: str,
        caplog: pytest.LogCaptureFixture) -> None:
    fake_tv.broken = {"layout_menu"}

    async def main() -> tuple:
        async with engine_for(fake_tv, chromium_path) as engine:
            first = await engine.run(sma_request("Fast Length=12"))
            await engine.run(sma_request("Fast Length=9"))
            return first, engine.step_log

    with caplog.at_level("WARNING"):
        first, log = asyncio.run(main())
    assert first.properties["inputs"]["Fast Length"] == 12
    assert len(fake_tv.layouts) == 1  # nothing created
    warned = [r for r in caplog.records if "layout menu was not found" in r.getMessage()]
    assert len(warned) == 1  # once per engine, not per run
    assert any(r.step == "layout_create" and r.status == "skipped" for r in log.records)


def test_the_charts_timezone_is_set_to_the_runs_so_export_times_are_right(
        fake_tv: FakeTradingView, chromium_path: str) -> None:
    from dataclasses import replace

    from tvdesk.engines.local import LocalEngine
    from tvdesk.model import SymbolSpec

    fake_tv.chart_timezone = "Europe/Berlin"  # the trader's own chart setting
    base = sma_request("Fast Length=12")
    request = replace(base, symbol=SymbolSpec(ticker=base.symbol.ticker,
                                              timeframe=base.symbol.timeframe,
                                              timezone="America/New_York"))

    async def main() -> tuple:
        async with engine_for(fake_tv, chromium_path) as engine:
            tv = await engine.run(request)
            log = engine.step_log
        async with LocalEngine(processes=1) as local:  # the fake site reads its bars as UTC
            return tv, await local.run(replace(base, data_path=str(DATA))), log

    tv, local, log = asyncio.run(main())
    assert "chart-timezone:America/New_York" in fake_tv.events
    # The same instants: read in New York time, the export's wall times were New York's.
    assert [t.entry_time for t in tv.trades] == [t.entry_time for t in local.trades]
    assert str(tv.trades[0].entry_time.tzinfo) == "America/New_York"
    assert any(r.step == "timezone_option" and r.status == "ok" for r in log.records)
