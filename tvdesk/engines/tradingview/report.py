"""The Strategy report: open it, set the date range, know when it is fresh, export XLSX.

Stale numbers are the classic failure of TradingView automation. Every change (script added,
range set, inputs applied) is followed by `wait_fresh`: a success snackbar that appeared
after the change, not one left from before (those are marked first). The export is checked
against the request afterwards anyway (run.py), so a missed signal cannot give a wrong result.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tvdesk.engines.tradingview.driver import Driver

SEEN = "data-tvdesk-seen"
SETTLE_SECONDS = 1.0  # quiet time after "report updated" before the report counts as fresh
_MARK = f"""(selectors) => {{
  for (const css of selectors) {{
    for (const el of document.querySelectorAll(css)) el.setAttribute('{SEEN}', '1');
  }}
}}"""


async def open_report(driver: Driver) -> None:
    if await driver.probe("date_range_button") is not None:
        driver.skipped("report_button", "the report was already open")
        return
    await driver.click("report_button")
    await driver.find("date_range_button", timeout=driver.step_timeout * 2)


def _css(driver: Driver, key: str) -> list[str]:
    return [c.value for c in driver.book[key].candidates if c.kind == "css"]


async def mark_report(driver: Driver) -> None:
    """Mark the snackbars shown now, so `wait_fresh` only accepts newer ones."""
    selectors = _css(driver, "report_success") + _css(driver, "report_loading")
    await driver.page.evaluate(_MARK, selectors)


async def wait_fresh(driver: Driver, *, timeout: float) -> None:
    """Wait for a success snackbar newer than the last `mark_report`, clicking "Update report"
    when TradingView asks for it (Deep Backtesting)."""
    success = ", ".join(f"{css}:not([{SEEN}])" for css in _css(driver, "report_success"))
    loading = ", ".join(f"{css}:not([{SEEN}])" for css in _css(driver, "report_loading"))
    everything = _css(driver, "report_success") + _css(driver, "report_loading")
    started = asyncio.get_running_loop().time()
    while asyncio.get_running_loop().time() - started < timeout:
        if success and await driver.page.locator(success).count():
            await driver.page.evaluate(_MARK, everything)
            # Two quick changes can start two recomputes: the first one's "updated" is not
            # the end if another "loading" shows right after it.
            if loading and await _appears(driver, loading, SETTLE_SECONDS):
                continue
            elapsed = asyncio.get_running_loop().time() - started
            driver.record("report_success", 1, elapsed)
            return
        update = await driver.probe("report_update")
        if update is not None:
            await update[0].first.click()
            driver.record("report_update", update[1])
        await asyncio.sleep(0.2)
    raise await driver.failure("report_success", seconds=timeout,
                               detail="the report did not say it was updated")


async def _appears(driver: Driver, query: str, seconds: float) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await driver.page.locator(query).count():
            return True
        await asyncio.sleep(0.1)
    return False


def _day(value: date | datetime) -> str:
    return (value.date() if isinstance(value, datetime) else value).isoformat()


async def set_date_range(driver: Driver, start: date | datetime | None,
                         end: date | datetime | None) -> bool:
    """Set a custom testing period (either edge may stay as it is). True if it changed."""
    if start is None and end is None:
        driver.skipped("date_range_dialog", "no date range asked for")
        return False
    await driver.click("date_range_button")
    period = await driver.wait_for("testing_period", timeout=2.0)
    if period is not None:
        await period.first.click()
    await driver.click("custom_date_range")
    dialog = await driver.find("date_range_dialog")
    fields = await driver.find("date_inputs", root=dialog)
    if await fields.count() < 2:
        raise await driver.failure("date_inputs", seconds=driver.step_timeout,
                                   detail="expected two date fields (start and end)")
    changed = False
    for index, value in ((0, start), (1, end)):
        if value is None:
            continue
        box = fields.nth(index)
        text = _day(value)
        if (await box.input_value()) != text:
            await box.fill(text)
            changed = True
    await driver.click("date_range_submit", root=dialog)
    if not await driver.wait_gone("date_range_dialog"):
        raise await driver.failure("date_range_dialog", seconds=driver.step_timeout,
                                   detail="the dialog did not close (a value was refused?)")
    return changed


async def export_xlsx(driver: Driver, folder: Path, stem: str, *, timeout: float) -> Path:
    """Download the report as XLSX into `folder`; returns the saved file."""
    await driver.click("export_menu_button")
    item = await driver.find("export_xlsx")
    async with driver.page.expect_download(timeout=timeout * 1000) as info:
        await item.first.click()
    download: Any = await info.value
    failure = await download.failure()
    if failure:
        raise await driver.failure("export_xlsx", seconds=timeout,
                                   detail=f"the download failed: {failure}")
    folder.mkdir(parents=True, exist_ok=True)
    suggested = download.suggested_filename or "report.xlsx"
    target = folder / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}_{stem}_{suggested}"
    await download.save_as(target)
    return target
