"""The chart's timezone: set to the run's, so the export's times are never misread.

TradingView writes every time of an export in the chart's timezone, without an offset, and
that timezone is a per-account chart setting (a trader in Berlin often keeps "Exchange" or
their own city). tvdesk reads the export in the run's timezone (`--timezone`, the symbol's),
so before a run it picks that zone in the chart's time-zone menu: entries read "UTC" or
"(UTC-5) New York", so the wanted zone is found by its city (the IANA name's last part) or
as UTC. When the menu has no such entry, the zone the chart shows is compared with the run's
by their offset now; a different one is an error that says what to set, never a silently
shifted trade list.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tvdesk.engines.tradingview.driver import Driver
from tvdesk.engines.tradingview.errors import TradingViewError

_OFFSET = re.compile(r"UTC\s*(?:([+\-−])\s*(\d{1,2})(?::?(\d{2}))?)?", re.IGNORECASE)
_UTC_NAMES = frozenset({"utc", "etc/utc", "gmt", "etc/gmt", "z", "zulu", "universal"})


def menu_words(zone: str) -> tuple[str, ...]:
    """What the zone's menu entry says: ("UTC",) or its city ("New York")."""
    if zone.casefold() in _UTC_NAMES:
        return ("UTC",)
    city = zone.rsplit("/", 1)[-1].replace("_", " ")
    return (city,)


def offset_minutes(text: str) -> int | None:
    """The UTC offset a label shows ("(UTC+5:30) Kolkata", "14:03:22 UTC-4"), in minutes."""
    match = _OFFSET.search(text)
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    if hours is None:
        return 0
    total = int(hours) * 60 + int(minutes or 0)
    return -total if sign in ("-", "−") else total


def zone_offset_minutes(zone: str, at: datetime | None = None) -> int:
    moment = (at or datetime.now(UTC)).astimezone(ZoneInfo(zone))
    offset = moment.utcoffset()
    return 0 if offset is None else int(offset.total_seconds() // 60)


async def set_chart_timezone(driver: Driver, zone: str) -> str:
    """Make the chart show `zone`; returns how ("menu", "already", "same offset").

    The menu entry is matched by its text (the city, or UTC) and the button read back; a
    chart with no time-zone menu is accepted only when its shown offset is the zone's.
    """
    button = await driver.wait_for("timezone_button", timeout=2.0)
    if button is None:
        driver.skipped("timezone_option", "the chart shows no time-zone menu")
        return "no menu"
    words = menu_words(zone)
    shown = " ".join((await button.first.inner_text()).split())
    if _names(shown, words):
        driver.skipped("timezone_option", f"the chart already shows {zone}")
        return "already"
    await driver.click("timezone_button")
    options = await driver.find("timezone_option")
    for index in range(await options.count()):
        option = options.nth(index)
        text = " ".join((await option.inner_text()).split())
        if _names(text, words):
            await option.click()
            after = " ".join((await (await driver.find("timezone_button")).first
                              .inner_text()).split())
            if _names(after, words) or offset_minutes(after) == offset_minutes(text):
                return "menu"
            break
    if await driver.probe("timezone_option") is not None:
        await driver.click("timezone_button")  # the menu toggles shut, no keys pressed
    shown = " ".join((await (await driver.find("timezone_button")).first.inner_text()).split())
    if offset_minutes(shown) == zone_offset_minutes(zone):
        return "same offset"
    raise TradingViewError(
        f"the chart's timezone ({shown!r}) is not the run's ({zone}) and its time-zone menu "
        f"has no entry for {' / '.join(words)}: set the chart to {zone} on TradingView, or "
        f"run with --timezone set to the chart's zone")


def _names(text: str, words: tuple[str, ...]) -> bool:
    folded = text.casefold()
    if words == ("UTC",):
        return re.fullmatch(r"(\d{1,2}:\d{2}(:\d{2})?\s*)?\(?utc\)?", folded.strip()) is not None
    return any(word.casefold() in folded for word in words)
