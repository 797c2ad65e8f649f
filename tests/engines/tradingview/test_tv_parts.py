"""The TradingView engine's parts that need no browser: selectors file, pacing, script text,
settings, browser discovery, the check table, inputs read from Pine text."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tvdesk.app.tradingview import check_rows, format_check_table
from tvdesk.config import TradingViewSettings, load_settings, save_settings
from tvdesk.engines.tradingview.browser import BrowserNotFound, find_browser, profile_dir
from tvdesk.engines.tradingview.driver import StepLog, StepRecord
from tvdesk.engines.tradingview.pacing import HOUR, Pacer, PacingLedger, risk_warnings
from tvdesk.engines.tradingview.script_text import same_code, tag_title, tv_interval
from tvdesk.engines.tradingview.selectors import BUNDLED, _parse, load_selectors
from tvdesk.errors import ConfigError, InputError
from tvdesk.pine.pine_inputs import strategy_from_text

ROOT = Path(__file__).resolve().parents[3]


def test_bundled_selectors_have_fallbacks_and_no_bare_close() -> None:
    book = load_selectors()
    for step in book.steps.values():
        assert len(step.candidates) >= 2, f"{step.key} needs a fallback"
    for popup in book.popups:
        # A bare [aria-label="Close"] also closes the Pine Editor on TradingView.
        assert popup.overlay not in ("[aria-label='Close']", '[aria-label="Close"]')
    assert book["add_to_chart"].candidates[0].value == "[data-qa-id='add-script-to-chart']"


def test_selector_file_errors_name_the_step(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"step \[broken\].*exactly one of"):
        _parse('[broken]\ncandidates = [{ css = "a", label = "b" }]\n', "x.toml")
    with pytest.raises(ConfigError, match=r"step \[empty\] needs a non-empty candidates"):
        _parse("[empty]\ncandidates = []\n", "x.toml")


def test_user_override_file_replaces_one_step(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("TVDESK_HOME", str(tmp_path))
    from tvdesk import paths

    override = paths.config_dir() / "tradingview-selectors.toml"
    override.parent.mkdir(parents=True, exist_ok=True)
    override.write_text('[add_to_chart]\nwhat = "new button"\n'
                        'candidates = [{ css = "button.apply-v2" }, { text = "Apply" }]\n')
    book = load_selectors()
    assert book["add_to_chart"].tried() == "button.apply-v2; text='Apply'"
    assert book["report_button"].candidates  # the other steps are still the bundled ones
    assert str(override) in book.source and BUNDLED.name in book.source


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pacer_pauses_after_each_run_and_caps_runs_per_hour(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    monkeypatch.setattr("tvdesk.engines.tradingview.pacing.asyncio.sleep", fake_sleep)
    pacer = Pacer((10.0, 10.0), runs_per_hour=3, clock=clock)

    async def runs(n: int) -> list[float]:
        starts = []
        for _ in range(n):
            await pacer.slot()
            starts.append(clock.now)
            clock.now += 5.0  # the run itself
            pacer.finished()
        return starts

    starts = asyncio.run(runs(4))
    assert starts[1] - starts[0] == pytest.approx(15.0)  # 5 s run + 10 s pause
    assert starts[2] - starts[1] == pytest.approx(15.0)
    assert starts[3] - starts[0] == pytest.approx(HOUR)  # the 4th waits for the hour


def test_two_pacers_sharing_a_ledger_share_the_pause_and_the_hourly_cap(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What two tvdesk processes on one account do: each its own Pacer, one ledger file."""
    clock = FakeClock()
    clock.now = 1_000_000.0

    async def fake_sleep(seconds: float) -> None:
        clock.now += seconds

    monkeypatch.setattr("tvdesk.engines.tradingview.pacing.asyncio.sleep", fake_sleep)
    path = tmp_path / "pacing.sqlite"
    cli, gui = (Pacer((10.0, 10.0), runs_per_hour=3, clock=clock,
                      ledger=PacingLedger(path, "Trader@Example.com")) for _ in range(2))

    async def one_run(pacer: Pacer) -> float:
        await pacer.slot()
        started = clock.now
        clock.now += 5.0
        pacer.finished()
        return started

    async def alternate() -> list[float]:
        return [await one_run(p) for p in (cli, gui, cli, gui)]

    starts = asyncio.run(alternate())
    assert starts[1] - starts[0] == pytest.approx(15.0)  # gui waits for cli's pause
    assert starts[2] - starts[1] == pytest.approx(15.0)
    assert starts[3] - starts[0] == pytest.approx(HOUR)  # the 4th start of the account
    other = PacingLedger(path, "someone-else")  # another account is not held back
    assert other.reserve(clock.now, 3) == (0.0, 1)
    assert "trader" not in path.read_bytes().decode("latin-1").casefold()


def test_separate_processes_never_take_more_starts_than_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "pacing.sqlite"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from tvdesk.engines.tradingview.pacing import PacingLedger\n"
        "ledger = PacingLedger(Path(sys.argv[1]), 'trader')\n"
        "print(sum(ledger.reserve(time.time(), 5)[0] == 0 for _ in range(6)))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)],
                              stdout=subprocess.PIPE, text=True) for _ in range(3)]
    taken = [int(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(taken) == 5  # 18 tries from 3 processes, the hourly cap is 5


def test_risk_warnings_only_beyond_the_safe_defaults() -> None:
    assert risk_warnings(TradingViewSettings(), 1) == []
    warnings = risk_warnings(TradingViewSettings(pause_seconds=(1, 2), runs_per_hour=500), 3)
    assert len(warnings) == 3
    assert all("ban" in w for w in warnings)


def test_title_token_stays_on_the_same_line() -> None:
    source = (ROOT / "pine/examples/sma_cross.pine").read_text()
    tagged, title = tag_title(source, "tvd123abc")
    assert title == "SMA Cross [tvd123abc]"
    assert len(tagged.splitlines()) == len(source.splitlines())
    assert [i for i, (a, b) in enumerate(zip(source.splitlines(), tagged.splitlines(),
                                              strict=True)) if a != b] == [3]
    named, _ = tag_title('//@version=6\nstrategy(title = "It\'s", overlay=true)\n', "tvd1")
    assert 'title = "It\'s [tvd1]"' in named
    with pytest.raises(InputError, match="no strategy"):
        tag_title('indicator("x")\n', "tvd1")


@pytest.mark.parametrize(("given", "typed"), [("60", "60"), ("1h", "60"), ("4H", "240"),
                                              ("1D", "1D"), ("D", "1D"), ("15m", "15"),
                                              ("1W", "1W"), ("1M", "1M"), ("30s", "30S")])
def test_interval_typed_as_tradingview_expects(given: str, typed: str) -> None:
    assert tv_interval(given) == typed


def test_bad_interval_names_the_flag() -> None:
    with pytest.raises(InputError, match="--timeframe"):
        tv_interval("fortnight")


def test_same_code_ignores_line_endings_only() -> None:
    assert same_code("a\r\nb  \n", "a\nb")
    assert not same_code("a\nb", "a\nc")


def test_tradingview_settings_round_trip_and_errors(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('[tradingview]\npages = 2\npause_seconds = [3, 8]\nheadless = false\n')
    settings = load_settings(config)
    assert settings.tradingview.pages == 2
    assert settings.tradingview.pause_seconds == (3.0, 8.0)
    assert settings.tradingview.headless is False
    save_settings(settings, config)
    assert load_settings(config).tradingview == settings.tradingview
    config.write_text("[tradingview]\npause_seconds = [9, 2]\n")
    with pytest.raises(ConfigError, match=r"tradingview\.pause_seconds.*min ≤ max"):
        load_settings(config)
    config.write_text("[tradingview]\npassword = \"x\"\n")
    with pytest.raises(ConfigError, match="keyring"):
        load_settings(config)


def test_browser_named_but_missing_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TVDESK_BROWSER", str(tmp_path / "no-such-chrome"))
    with pytest.raises(BrowserNotFound) as caught:
        find_browser()
    assert "TVDESK_BROWSER" in str(caught.value) and "apt-get install chromium" in str(
        caught.value)
    assert caught.value.exit_code == 2


def test_nothing_found_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TVDESK_BROWSER", raising=False)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(BrowserNotFound, match="no Chrome or Chromium found"):
        find_browser(None, bundled="/nonexistent/chrome")


def test_profile_folder_is_per_account_and_hides_the_address() -> None:
    a, b = profile_dir("Trader@Example.com"), profile_dir("other@example.com")
    assert a != b and a == profile_dir("trader@example.com ")
    assert "example" not in str(a)


def test_check_table_flags_fallbacks_failures_and_unreached() -> None:
    book = load_selectors()
    log = StepLog()
    log.add(StepRecord("report_button", "r", "ok", "[data-qa-id='backtesting']", 1, 0.1))
    log.add(StepRecord("add_to_chart", "a", "ok", "role=button name='Add to chart'", 2, 0.3))
    log.add(StepRecord("export_xlsx", "e", "failed", seconds=20))
    rows = {r.step: r for r in check_rows(log, book)}
    assert rows["report_button"].status == "ok"
    assert rows["add_to_chart"].status == "FALLBACK"
    assert rows["export_xlsx"].status == "FAILED"
    assert "Download data as XLSX" in rows["export_xlsx"].matched
    assert rows["date_range_dialog"].status == "not reached"
    table = format_check_table(list(rows.values()))
    assert "add_to_chart" in table and "candidate 2" in table


def test_inputs_read_from_pine_text_when_the_transpiler_cannot() -> None:
    strategy = strategy_from_text((ROOT / "pine/examples/multi_condition.pine").read_text())
    assert strategy.title == "Multi Condition"
    kinds = {i.title: (i.kind, i.default) for i in strategy.inputs}
    assert kinds["Length"] == ("int", 20)
    assert kinds["Band Multiplier"] == ("float", 2.0)


def test_short_title_is_tagged_too_because_the_legend_shows_it() -> None:
    source = ('//@version=6\nstrategy("Long Name", shorttitle="LN", overlay=true,\n'
              '     initial_capital=1000)\nx = input.int(3, "shorttitle")\n')
    tagged, title = tag_title(source, "tvd1")
    assert title == "Long Name [tvd1]"
    assert 'shorttitle="LN [tvd1]"' in tagged
    assert 'input.int(3, "shorttitle")' in tagged  # only inside the strategy() statement


@pytest.mark.parametrize(("label", "text", "line"), [
    ("12:29", "12:29 Mismatched input", 12),
    (None, "15:26:23 Error at 12:29 Mismatched input 'end of line'", 12),
    (None, "7:3  Undeclared identifier 'foo'", 7),
    (None, "Compilation error. Line 40: no viable alternative", 40),
    (None, "15:26:23 Something went wrong", None),
])
def test_compile_error_line_from_tradingviews_wording(label: str | None, text: str,
                                                      line: int | None) -> None:
    from tvdesk.engines.tradingview.editor import error_line

    assert error_line(label, text) == line


def test_step_log_keeps_a_success_but_a_later_failure_wins() -> None:
    log = StepLog()
    log.add(StepRecord("legend_delete", "x", "ok", "[data-qa-id='legend-delete-action']", 1))
    log.add(StepRecord("legend_delete", "x", "skipped", note="nothing on the chart to remove"))
    assert [r.status for r in log.records] == ["ok"]
    log.add(StepRecord("legend_delete", "x", "failed"))
    assert [r.status for r in log.records] == ["failed"]


def test_tradingview_workers_are_pages_not_the_local_process_count() -> None:
    from tvdesk.app.optimize_settings import RunForm, settings_from_form
    from tvdesk.app.requests import RunOptions
    from tvdesk.config import Settings

    options = RunOptions(script=str(ROOT / "pine/examples/sma_cross.pine"),
                         symbol="FX:EURUSD", timeframe="60")
    config = Settings(processes=8)
    tv = settings_from_form(RunForm(options=options, engine="tradingview"), config)
    assert tv.process_count == 1  # [tradingview] pages, not the 8 local workers
    assert tv.request.data_path is None
    chosen = settings_from_form(RunForm(options=options, engine="tradingview",
                                        process_count=2), config)
    assert chosen.process_count == 2  # asked for explicitly: allowed, with a warning


@pytest.mark.parametrize(("change", "flag", "message"), [
    ({"symbol": ""}, "--symbol", "needs a symbol"),
    ({"timeframe": None}, "--timeframe", "needs a timeframe"),
    ({"timeframe": "fortnight"}, "--timeframe", "expected a timeframe"),
    ({"inputs": (("Fast Length", "abc"),)}, "--input", "expected a whole number"),
    ({"settings": (("margin_long", 50),)}, "settings", "not margin_long"),
])
def test_bad_requests_are_refused_before_any_browser_opens(change: dict, flag: str,
                                                           message: str) -> None:
    from dataclasses import replace

    from tvdesk.app.requests import RunOptions, build_request
    from tvdesk.engines.tradingview.run import check_request

    request = build_request(RunOptions(script=str(ROOT / "pine/examples/sma_cross.pine"),
                                       symbol="FX:EURUSD", timeframe="60"))
    assert check_request(request) == "60"
    symbol_fields = {k: v for k, v in change.items() if k in ("symbol", "timeframe")}
    if "symbol" in symbol_fields:
        symbol_fields["ticker"] = symbol_fields.pop("symbol")
    bad = replace(request, symbol=replace(request.symbol, **symbol_fields),
                  **{k: v for k, v in change.items() if k in ("inputs", "settings")})
    with pytest.raises(InputError, match=message) as caught:
        check_request(bad)
    assert caught.value.source == flag and caught.value.exit_code == 2


def test_time_zone_labels_are_read_by_city_and_offset() -> None:
    from tvdesk.engines.tradingview.chart_timezone import menu_words, offset_minutes

    assert menu_words("America/New_York") == ("New York",)
    assert menu_words("Etc/UTC") == menu_words("UTC") == ("UTC",)
    assert offset_minutes("(UTC-5) New York") == -300
    assert offset_minutes("14:03:22 (UTC+5:30)") == 330
    assert offset_minutes("UTC") == 0
    assert offset_minutes("Exchange") is None
