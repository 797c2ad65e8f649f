"""tvdesk's own chart layout: every run happens there, never on one of the trader's layouts.

TradingView saves a chart layout on every change (the strategies on it, the interval, the
symbol), so a bot working on the layout a trader opened last rewrites that trader's work. On
its first run with a browser profile tvdesk creates a layout named `LAYOUT_NAME` through the
layout menu and remembers its id in the profile folder; every later run opens
`/chart/<that id>/`. A layout that is gone (deleted on the site, another account) is noticed
(TradingView sends the page elsewhere, or the layout has another name) and created again. A
page without a layout menu is worked on as it opened, with a warning (tvdesk.engines.
tradingview.chart.open_chart).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path

from tvdesk.engines.tradingview.driver import Driver
from tvdesk.fileio import write_json_atomically

log = logging.getLogger(__name__)

LAYOUT_NAME = "tvdesk"
_LAYOUT_IN_URL = re.compile(r"/chart/([A-Za-z0-9]+)/")


class LayoutMemory:
    """The id of tvdesk's layout for one browser profile (a small JSON file next to it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.unavailable = False  # the page has no layout menu: the open layout is used
        self._lock: asyncio.Lock | None = None

    @property
    def lock(self) -> asyncio.Lock:
        """Held while a page makes the layout (made on the engine's loop, on first use)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def get(self) -> str | None:
        try:
            value = json.loads(self.path.read_text(encoding="utf-8")).get("layout_id")
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, str) and value.isalnum() else None

    def remember(self, layout_id: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self.path, {"layout_id": layout_id, "name": LAYOUT_NAME})


def layout_in(url: str) -> str | None:
    """The layout id of a chart URL (`/chart/Ab12Cd34/?symbol=...`), if it names one."""
    match = _LAYOUT_IN_URL.search(url)
    return match.group(1) if match else None


async def shown_layout_name(driver: Driver) -> str | None:
    """The name on the layout menu's button, or None when the page has no such button."""
    found = await driver.wait_for("layout_menu", timeout=2.0)
    if found is None:
        return None
    return " ".join((await found.first.inner_text()).split()) or None


async def on_own_layout(driver: Driver, layout_id: str | None) -> bool:
    """Whether the page shows tvdesk's layout: the remembered id in the URL, and the name."""
    if layout_id is None or layout_in(driver.page.url) != layout_id:
        return False
    name = await shown_layout_name(driver)
    return name is None or name.casefold() == LAYOUT_NAME


async def create_layout(driver: Driver, *, timeout: float) -> str:
    """Create tvdesk's layout through the layout menu; returns its id once the page has
    moved to it (the name is read back before it is saved, as every `Driver.fill` is)."""
    before = layout_in(driver.page.url)
    await driver.click("layout_menu")
    await driver.click("layout_create")
    dialog = (await driver.find("layout_name_dialog")).first
    await driver.fill("layout_name_input", LAYOUT_NAME, root=dialog)
    await driver.click("layout_name_submit", root=dialog)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        now = layout_in(driver.page.url)
        if now is not None and now != before:
            log.info("created tvdesk's own TradingView chart layout %s", now)
            return now
        await asyncio.sleep(0.2)
    raise await driver.failure("layout_name_submit", seconds=timeout,
                               detail="no new layout opened after naming it")
