"""Smoke tests of the fake TradingView: driven like a human would, with raw Playwright.

They prove the fake behaves (sign-in, 2FA, captcha, pop-ups that block clicks, Pine errors,
report updates, the settings dialog's virtual list, date ranges, XLSX exports and stale
exports), so a failure of the bot's own tests points at the bot, not at the fake.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tvdesk.exports import export_matches, read_export
from tvdesk.paths import examples_dir

from fake_tradingview import CHROMIUM_ARGS, FakeTradingView, totp

BAD_SCRIPT = '//@version=6\nstrategy("Bad")\nx = close +* 2\nplot(x)\n'
NO_TRADES = '//@version=6\nstrategy("Typed", overlay=true)\nplot(close)\n'
SMA_CROSS = (examples_dir() / "sma_cross.pine").read_text("utf-8")
SUCCESS = "#snackbar-container [data-qa-id^='backtesting-success-report-snackbar']"
LOADING = "#snackbar-container [data-qa-id^='backtesting-loading-report-snackbar']"


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path,
                                              args=list(CHROMIUM_ARGS), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    created = browser.new_context(accept_downloads=True, locale="en-US",
                                  viewport={"width": 1280, "height": 720})
    created.set_default_timeout(10_000)
    yield created
    created.close()


def _wrong_code(secret: str) -> str:
    """A 6-digit code valid in none of the windows the server accepts."""
    now = time.time()
    valid = {totp(secret).at(now + offset) for offset in (-60, -30, 0, 30, 60)}
    return next(f"{n:06d}" for n in range(123456, 124000) if f"{n:06d}" not in valid)


def _open_signin(page: Page, site: FakeTradingView) -> None:
    page.goto(site.base_url + "/accounts/signin/")
    page.locator("[data-name='cookie-banner']").get_by_role("button", name="Accept all").click()
    page.get_by_role("button", name="Email").click()


def _submit_password(page: Page, site: FakeTradingView, password: str | None = None) -> None:
    page.get_by_label("Email or Username").fill(site.username)
    page.get_by_label("Password").fill(password or site.password)
    page.get_by_role("button", name="Sign in").click()


def _session(context: BrowserContext) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == "sessionid"), None)


# --------------------------------------------------------------------------- sign-in


def test_signin_with_the_right_totp_code_sets_the_session(fake_tv: FakeTradingView,
                                                          context: BrowserContext) -> None:
    page = context.new_page()
    _open_signin(page, fake_tv)
    _submit_password(page, fake_tv)
    code = page.get_by_role("textbox", name="Code from your app or backup")
    code.fill(totp(fake_tv.totp_secret or "").now())
    code.press("Enter")
    page.wait_for_url(fake_tv.base_url + "/")
    expect(page.get_by_text("Signed in")).to_be_visible()
    assert _session(context)
    assert (fake_tv.password_logins, fake_tv.signin_attempts, fake_tv.totp_failures) == (1, 1, 0)


def test_wrong_password_and_wrong_code_are_refused(fake_tv: FakeTradingView,
                                                   context: BrowserContext) -> None:
    page = context.new_page()
    _open_signin(page, fake_tv)
    _submit_password(page, fake_tv, password="wrong")
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password")
    assert fake_tv.password_logins == 0
    _submit_password(page, fake_tv)
    code = page.get_by_role("textbox", name="Code from your app or backup")
    code.fill(_wrong_code(fake_tv.totp_secret or ""))
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid code")
    assert (fake_tv.signin_attempts, fake_tv.password_logins, fake_tv.totp_failures) == (2, 1, 1)
    assert _session(context) is None


@pytest.mark.parametrize("knob", ["captcha", "too_many_attempts"])
def test_captcha_blocks_the_login_until_a_human_solves_it(fake_tv: FakeTradingView,
                                                          context: BrowserContext,
                                                          knob: str) -> None:
    setattr(fake_tv, knob, True)
    page = context.new_page()
    _open_signin(page, fake_tv)
    _submit_password(page, fake_tv)
    expect(page.locator("iframe[title='reCAPTCHA captcha']")).to_be_visible()
    expect(page.locator("[class*='captcha' i]").first).to_be_visible()
    if knob == "too_many_attempts":
        expect(page.get_by_role("alert")).to_have_text(
            "Too many attempts. Please try again later.")
    page.wait_for_timeout(700)  # the page polls; nothing may happen before the human
    assert "/accounts/signin/" in page.url
    assert _session(context) is None
    fake_tv.solve_captcha()
    page.wait_for_url(fake_tv.base_url + "/")
    assert _session(context)
    assert fake_tv.signin_attempts == 1


def test_chart_needs_a_session_and_records_the_language(fake_tv: FakeTradingView,
                                                        browser: Browser) -> None:
    context = browser.new_context(locale="de-DE")
    try:
        page = context.new_page()
        page.goto(fake_tv.base_url + "/chart/?symbol=FX%3AEURUSD")
        assert page.url.startswith(fake_tv.base_url + "/accounts/signin/?next=")
        assert fake_tv.accept_languages and fake_tv.accept_languages[-1].startswith("de-DE")
    finally:
        context.close()


# --------------------------------------------------------------------------- chart


def _open_chart(context: BrowserContext, site: FakeTradingView, query: str) -> Page:
    context.add_cookies([{"name": "sessionid", "value": site.create_session(),
                          "url": site.base_url}])
    page = context.new_page()
    page.goto(f"{site.base_url}/chart/?{query}")
    assert re.search(r"/chart/Ab12Cd34/\?" + re.escape(query) + "$", page.url)
    return page


def _set_code(page: Page, code: str) -> None:
    page.evaluate("code => window.monaco.editor.getModels()[0].setValue(code)", code)


def _wait_for_update(page: Page, site: FakeTradingView, count: int) -> None:
    """Wait for the `count`-th backtest's report (its success snackbar)."""
    deadline = 100
    while len(site.backtests) < count and deadline:
        page.wait_for_timeout(50)
        deadline -= 1
    assert len(site.backtests) == count
    expect(page.locator(SUCCESS)).to_be_visible()
    expect(page.locator(LOADING)).to_have_count(0)


def _row(dialog: Locator, label: str) -> Locator:
    """A settings row by its label, scrolling the virtual list until it is rendered."""
    scroll = dialog.locator("[data-name='dialog-scroll']")
    row = scroll.locator(".row").filter(
        has=dialog.page.locator(".cell-first").get_by_text(label, exact=True))
    for _ in range(30):
        if row.count():
            return row
        scroll.evaluate("el => el.scrollBy(0, 80)")
        dialog.page.wait_for_timeout(30)
    raise AssertionError(f"no settings row {label!r}")


def _set_input(page: Page, dialog: Locator, label: str, value: str) -> None:
    _row(dialog, label).locator(".cell-last input").fill(value)


def _export(page: Page, folder: Path) -> Path:
    with page.expect_download() as info:
        page.locator("button[title='Open context menu']").click()
        page.get_by_role("menuitem", name="Download data as XLSX").click()
    download = info.value
    target = folder / download.suggested_filename
    download.save_as(target)
    return target


def test_chart_strategy_report_settings_and_exports(fake_tv: FakeTradingView,
                                                    context: BrowserContext,
                                                    tmp_path: Path) -> None:
    page = _open_chart(context, fake_tv, "symbol=FX%3AEURUSD&interval=60")
    pine_button = page.locator("[data-name='pine-dialog-button']")

    # Pop-ups: each really blocks clicks until closed.
    banner = page.locator("[data-name='cookie-banner']")
    expect(banner).to_be_visible()
    with pytest.raises(PlaywrightTimeout):
        pine_button.click(timeout=400)
    banner.get_by_role("button", name="Accept all").click()
    gopro = page.locator("[data-dialog-name='gopro']")
    expect(gopro).to_be_visible()
    with pytest.raises(PlaywrightTimeout):
        pine_button.click(timeout=400)
    gopro.locator("[data-name='popup-close']").click()

    # The layout keeps a study and an old strategy; actions show only on hover.
    old = page.locator("[data-qa-id='legend-source-item'][data-kind='strategy']")
    expect(old).to_have_text(re.compile("Old Strategy"))
    expect(page.locator("[data-qa-id='legend-source-item'][data-kind='study']")).to_have_count(1)
    remove = old.locator("[data-qa-id='legend-delete-action']")
    expect(remove).to_be_hidden()
    old.hover()
    remove.click()
    expect(old).to_have_count(0)

    # Interval: typed into the dialog.
    page.get_by_role("button", name="Change interval").click()
    page.locator("[data-name='change-interval-dialog'] input").fill("1h")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Change interval")).to_have_text("1h")

    # Pine Editor: a compile error names its line; a good strategy lands in the legend.
    pine_button.click()
    expect(page.locator("[data-name='pine-editor'] .monaco-editor")).to_be_visible()
    page.wait_for_function("() => window.monaco && window.monaco.editor.getModels().length")
    add = page.locator("[data-qa-id='add-script-to-chart']")
    _set_code(page, BAD_SCRIPT)
    add.click()
    error = page.locator(".marker-widget .message[role='alert']")
    expect(error).to_have_attribute("aria-label", "3:1")
    expect(page.locator("[data-name='pine-console'] [class*='error']")).to_have_count(1)
    _set_code(page, SMA_CROSS)
    add.click()
    expect(error).to_have_count(0)
    expect(page.locator("[data-qa-id='legend-source-item']", has_text="SMA Cross")).to_have_count(1)

    # Report: the upgrade offer comes back the first time it opens.
    page.locator("[data-qa-id='backtesting']").click()
    gopro.locator("[data-name='popup-close']").click()
    _wait_for_update(page, fake_tv, 1)
    expect(page.locator("[data-name='strategy-title']")).to_have_text("SMA Cross")
    expect(page.locator("div[data-qa-id='strategy-key-facts']")).to_contain_text("Total trades")
    first = fake_tv.backtests[0]
    assert (first["symbol"], first["interval"], first["properties"]) == ("FX:EURUSD", "1h", {})
    assert first["inputs"] == {"Fast Length": 10, "Slow Length": 30, "Allow Shorts": False}
    assert first["date_from"] is None and first["date_to"] is None

    # Settings from the legend: an input, and a property below the visible rows.
    item = page.locator("[data-qa-id='legend-source-item']", has_text="SMA Cross")
    item.hover()
    item.locator("[data-qa-id='legend-settings-action']").click()
    dialog = page.locator("div[data-name='indicator-properties-dialog']")
    expect(dialog).to_have_attribute("aria-label", "SMA Cross settings")
    _set_input(page, dialog, "Fast Length", "12")
    dialog.get_by_role("tab", name="Properties").click()
    expect(dialog.locator("[data-qa-id='slippage-input']")).to_have_count(0)  # virtual
    expect(dialog.locator("[data-qa-id='initial-capital-input'] input")).to_have_value("10000")
    _row(dialog, "Slippage")
    dialog.locator("[data-qa-id='slippage-input'] input").fill("2")
    dialog.get_by_role("tab", name="Inputs").click()
    expect(_row(dialog, "Fast Length").locator("input")).to_have_value("12")  # kept
    dialog.locator("button[data-name='submit-button']").click()
    expect(dialog).to_have_count(0)
    _wait_for_update(page, fake_tv, 2)
    assert fake_tv.backtests[1]["inputs"]["Fast Length"] == 12
    assert fake_tv.backtests[1]["properties"] == {"slippage": 2}

    first_export = _export(page, tmp_path / "one")
    assert re.fullmatch(r"SMA_Cross_FX_EURUSD_\d{4}-\d{2}-\d{2}\.xlsx", first_export.name)
    result = read_export(first_export)
    assert len(result.trades) > 0
    assert export_matches(result, inputs={"Fast Length": 12, "Slow Length": 30},
                          symbol="FX:EURUSD", timeframe="1h") == []

    # A change through the report's own settings button; one stale export, then fresh.
    page.locator("[data-name='strategy-settings']").click()
    _set_input(page, dialog, "Fast Length", "15")
    dialog.locator("button[data-name='submit-button']").click()
    _wait_for_update(page, fake_tv, 3)
    fake_tv.stale_exports = 1
    stale = read_export(_export(page, tmp_path / "two"))
    assert export_matches(stale, inputs={"Fast Length": 12}) == []
    assert fake_tv.stale_exports == 0
    fresh = read_export(_export(page, tmp_path / "three"))
    assert export_matches(fresh, inputs={"Fast Length": 15}) == []
    assert fake_tv.exports[0] == fake_tv.exports[1] != fake_tv.exports[2]

    # Date range: Testing period > Custom date range; a bad date keeps the dialog open.
    page.get_by_role("button", name=re.compile(r"\d{4}.+\d{4}")).click()
    page.get_by_role("menuitem", name="Testing period").click()
    page.get_by_role("menuitem", name="Custom date range").click()
    ranges = page.locator("[data-name='custom-date-range-dialog']")
    start, end = ranges.get_by_placeholder("YYYY-MM-DD").all()
    expect(start).to_have_value(fake_tv.data_range[0])
    start.fill("2017-13-01")
    ranges.locator("button[data-name='submit-button']").click()
    expect(ranges.locator("[data-name='date-range-error']")).to_contain_text("YYYY-MM-DD")
    start.fill("2017-06-01")
    end.fill("2017-12-29")
    ranges.locator("button[data-name='submit-button']").click()
    expect(ranges).to_have_count(0)
    expect(page.get_by_role("button", name="2017-06-01 — 2017-12-29")).to_be_visible()
    _wait_for_update(page, fake_tv, 4)
    assert (fake_tv.backtests[3]["date_from"], fake_tv.backtests[3]["date_to"]) == \
        ("2017-06-01", "2017-12-29")
    ranged = read_export(_export(page, tmp_path / "four"))
    assert export_matches(ranged, inputs={"Fast Length": 15}, date_from=date(2017, 6, 1),
                          date_to=date(2017, 12, 29), symbol="FX:EURUSD",
                          timeframe="60") == []
    assert all(t.entry_time.date() >= date(2017, 6, 1) for t in ranged.trades)


def test_knobs_deep_backtesting_broken_button_hidden_monaco(fake_tv: FakeTradingView,
                                                            context: BrowserContext) -> None:
    fake_tv.popups = False
    fake_tv.deep_backtesting = True
    fake_tv.expose_monaco = False
    fake_tv.broken = {"add_to_chart"}
    page = _open_chart(context, fake_tv, "symbol=BINANCE%3ABTCUSDT")
    page.locator("[data-name='pine-dialog-button']").click()
    editor = page.locator("[data-name='pine-editor'] .monaco-editor")
    expect(editor).to_be_visible()
    assert page.evaluate("() => typeof window.monaco") == "undefined"
    expect(page.locator("[data-qa-id='add-script-to-chart']")).to_have_count(0)
    expect(page.get_by_role("button", name="Add to chart")).to_have_count(0)

    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(NO_TRADES)
    page.locator("button.apply-v2").click()
    expect(page.locator("[data-qa-id='legend-source-item']", has_text="Typed")).to_have_count(1)

    page.locator("[data-qa-id='backtesting']").click()
    update = page.get_by_role("button", name="Update report")
    expect(update).to_be_visible()
    page.wait_for_timeout(300)
    assert fake_tv.backtests == []  # Deep Backtesting waits for the click
    update.click()
    _wait_for_update(page, fake_tv, 1)
    expect(page.get_by_text("This report requires trade data")).to_be_visible()
    expect(page.locator("[data-qa-id='strategy-key-facts']")).to_have_count(0)
    assert fake_tv.backtests[0]["symbol"] == "BINANCE:BTCUSDT"
    assert fake_tv.backtests[0]["interval"] == "1D"
