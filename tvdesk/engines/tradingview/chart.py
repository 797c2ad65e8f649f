"""The chart: open a symbol, set the interval, clear old strategies off the legend."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from tvdesk.engines.tradingview.driver import Driver
from tvdesk.engines.tradingview.layout import (
    LAYOUT_NAME,
    LayoutMemory,
    create_layout,
    on_own_layout,
)
from tvdesk.engines.tradingview.session import Urls

log = logging.getLogger(__name__)

MAX_LEGEND_ITEMS = 30
LAYOUT_MENU_SECONDS = 3.0


def on_signin_page(url: str) -> bool:
    return "/accounts/signin" in url


async def open_chart(driver: Driver, urls: Urls, symbol: str, *, load_timeout: float,
                     layout: LayoutMemory | None = None) -> bool:
    """Open the chart of `symbol` on tvdesk's own layout (created on first use, see
    tvdesk.engines.tradingview.layout). False when TradingView sent us to sign in instead."""
    wanted = layout.get() if layout is not None else None
    if not await _load(driver, urls.chart(symbol, wanted), load_timeout):
        return False
    if layout is None or layout.unavailable or await on_own_layout(driver, wanted):
        return True
    async with layout.lock:  # pages of one engine make the layout once, one after another
        made = layout.get()
        if made != wanted:  # another page made it meanwhile
            if not await _load(driver, urls.chart(symbol, made), load_timeout):
                return False
            if layout.unavailable or await on_own_layout(driver, made):
                return True
        return await _make_layout(driver, urls, symbol, layout, load_timeout)


async def _make_layout(driver: Driver, urls: Urls, symbol: str, layout: LayoutMemory,
                       load_timeout: float) -> bool:
    if await driver.wait_for("layout_menu", timeout=LAYOUT_MENU_SECONDS) is None:
        # A page without the layout menu (or with one this selector file does not know):
        # say so once, loudly, and work on the layout TradingView opened.
        layout.unavailable = True
        log.warning("TradingView's layout menu was not found: tvdesk cannot make a chart "
                    "layout of its own and works on the one TradingView opened, which "
                    "TradingView saves (see `tvdesk tv check`)")
        driver.skipped("layout_create", "no layout menu on the page: the open layout is used")
        return True
    created = await create_layout(driver, timeout=load_timeout)
    layout.remember(created)
    if not await _load(driver, urls.chart(symbol, created), load_timeout):
        return False
    if not await on_own_layout(driver, created):
        raise await driver.failure("layout_menu", seconds=load_timeout,
                                   detail=f"the new layout {created} does not open as "
                                   f"{LAYOUT_NAME!r}")
    return True


async def _load(driver: Driver, url: str, load_timeout: float) -> bool:
    await driver.page.goto(url, wait_until="domcontentloaded", timeout=load_timeout * 1000)
    if on_signin_page(driver.page.url):
        return False
    await driver.find("interval_button", timeout=load_timeout)
    return not on_signin_page(driver.page.url)


async def set_interval(driver: Driver, interval: str) -> None:
    """Type the interval as TradingView's own shortcut does, then Enter.

    Keys go only where they belong: into the interval box once it is found and read back, or
    (to open that box) to the page while nothing else holds the focus. A pop-up that takes
    the focus midway is closed and the step starts again.
    """
    for _attempt in range(3):
        open_box = await driver.probe("interval_input")
        box = open_box[0] if open_box else None
        if box is None:
            await driver.click("interval_button")
            box = await driver.wait_for("interval_input", timeout=2.0)
        if box is None:
            if not await driver.focus_is_free():
                continue
            await driver.page.keyboard.type(interval[0])  # TradingView opens the box
            box = await driver.wait_for("interval_input", timeout=2.0)
            if box is None:
                continue
        try:
            await box.first.fill(interval)
            if await box.first.input_value() != interval:
                continue  # something else took the keys: start again
            await box.first.press("Enter")
        except Exception:
            if driver.page.is_closed():
                raise
            continue
        if await driver.wait_gone("interval_input"):  # the box closes when it is applied
            return
    raise await driver.failure("interval_input", seconds=driver.step_timeout,
                               detail=f"the interval box did not take {interval!r} (3 tries)")


async def clear_strategies(driver: Driver) -> int:
    """Remove every study and strategy from the legend (an earlier run's strategy would
    otherwise feed the report). Returns how many were removed."""
    removed = 0
    for _ in range(MAX_LEGEND_ITEMS):
        found = await driver.probe("legend_item")
        if found is None:
            break
        items, position = found
        driver.record("legend_item", position)
        before = await items.count()
        await hover_and_click(driver, items.first, "legend_delete")
        removed += 1
        for _wait in range(50):
            now = await driver.probe("legend_item")
            if now is None or await now[0].count() < before:
                break
            await asyncio.sleep(0.1)
    if removed == 0:
        driver.skipped("legend_delete", "nothing on the chart to remove")
    return removed


async def hover_and_click(driver: Driver, item: Any, key: str, tries: int = 4) -> None:
    """Hover a legend item and click one of its hover-only buttons (`key`).

    A pop-up that opens between the hover and the click takes the pointer away and the
    button hides again, so the pair is retried, not just the click.
    """
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        await driver.clear_popups()  # an overlay would take the hover
        try:
            await item.hover(timeout=3000)
            button = await driver.wait_for(key, root=item, timeout=2.0)
            if button is not None:
                await button.first.click(timeout=2000)
                return
        except PlaywrightTimeout:
            pass
        await asyncio.sleep(0.3 * (attempt + 1))
    raise await driver.failure(key, seconds=driver.step_timeout,
                               detail=f"the button did not show on hover ({tries} tries)")


async def legend_item_with(driver: Driver, text: str, *, timeout: float) -> object | None:
    """The legend item whose text contains `text` (our token), waiting up to `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await driver.probe("legend_item")
        if found is not None:
            match = found[0].filter(has_text=text)
            with contextlib.suppress(Exception):
                if await match.count():
                    driver.record("legend_item", found[1])
                    return match.first
        if asyncio.get_running_loop().time() >= deadline:
            return None
        await asyncio.sleep(0.2)
