"""The Pine Editor: put the code in, read it back, add it to the chart, read compile errors.

Code goes in through the Monaco model when the page exposes one (exact, no auto-indent or
auto-closing brackets), else by pasting from the clipboard, else by inserting the text as one
input event. Whatever the way, the editor's text is read back and compared before "Add to
chart": a script that did not arrive intact is never run.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tvdesk.engines.tradingview.driver import Driver
from tvdesk.engines.tradingview.script_text import same_code
from tvdesk.errors import PineError

_MODEL_SET = """(code) => {
  const m = window.monaco && window.monaco.editor;
  if (!m || !m.getEditors) return false;
  const editors = m.getEditors().filter(e => e.getDomNode() && e.getDomNode().offsetParent);
  if (!editors.length) return false;
  editors[0].getModel().setValue(code);
  return true;
}"""
_MODEL_GET = """() => {
  const m = window.monaco && window.monaco.editor;
  if (!m || !m.getEditors) return null;
  const editors = m.getEditors().filter(e => e.getDomNode() && e.getDomNode().offsetParent);
  return editors.length ? editors[0].getModel().getValue() : null;
}"""
# Where TradingView says the error is: a marker's aria-label "12:29", a console line
# "15:26:23 Error at 12:29 ..." (a clock time first), or a message starting "12:29 ...".
_LABEL_LINE = re.compile(r"^\s*(\d+):(\d+)\s*$")
_ERROR_AT = re.compile(r"\b(?:error\s+at|line)\s+(\d+)(?::\d+)?", re.IGNORECASE)
_LEADING_LINE = re.compile(r"^\s*(\d+):(\d+)(?![:\d])")


def error_line(label: str | None, text: str) -> int | None:
    """The Pine line of a compile error shown by TradingView, if it says."""
    for pattern, value in ((_LABEL_LINE, label or ""), (_ERROR_AT, text),
                           (_LEADING_LINE, text)):
        match = pattern.search(value)
        if match:
            return int(match.group(1))
    return None


async def open_editor(driver: Driver) -> Any:
    found = await driver.probe("pine_editor")
    if found is not None:
        driver.skipped("pine_editor_button", "the editor was already open")
        driver.record("pine_editor", found[1])
        return found[0].first
    await driver.click("pine_editor_button")
    return (await driver.find("pine_editor", timeout=driver.step_timeout * 2)).first


async def _select_all(driver: Driver, editor: Any) -> None:
    await driver.focus("pine_editor", editor)  # keys reach the editor, not a pop-up
    await driver.page.keyboard.press("ControlOrMeta+A")


async def _read_by_clipboard(driver: Driver, editor: Any) -> str | None:
    try:
        await _select_all(driver, editor)
        await driver.page.keyboard.press("ControlOrMeta+C")
        return await driver.page.evaluate("() => navigator.clipboard.readText()")
    except Exception:  # no clipboard permission in this browser
        return None


async def read_code(driver: Driver, editor: Any) -> str | None:
    text = await driver.page.evaluate(_MODEL_GET)
    if text is not None:
        return text
    return await _read_by_clipboard(driver, editor)


async def set_code(driver: Driver, code: str) -> str:
    """Put `code` in the editor and check it arrived; returns the way that worked."""
    editor = await open_editor(driver)
    ways = []
    if await driver.page.evaluate(_MODEL_SET, code):
        ways.append("editor model")
        if same_code(await read_code(driver, editor) or "", code):
            return "editor model"
    try:
        await driver.page.evaluate("(text) => navigator.clipboard.writeText(text)", code)
        await _select_all(driver, editor)
        await driver.page.keyboard.press("ControlOrMeta+V")
        ways.append("clipboard paste")
        await asyncio.sleep(0.2)
        if same_code(await read_code(driver, editor) or "", code):
            return "clipboard paste"
    except Exception:  # no clipboard here: type it below
        pass
    await _select_all(driver, editor)
    await driver.page.keyboard.press("Delete")
    await driver.page.keyboard.insert_text(code)
    ways.append("text input")
    got = await read_code(driver, editor)
    if got is not None and same_code(got, code):
        return "text input"
    detail = ("the editor's text differs from the script after "
              f"{', '.join(ways)}" if got is not None else "the editor's text cannot be read back")
    raise await driver.failure("pine_editor", seconds=driver.step_timeout, detail=detail)


async def compile_errors(driver: Driver) -> list[tuple[int | None, str]]:
    found = await driver.probe("pine_error")
    if found is None:
        return []
    errors: list[tuple[int | None, str]] = []
    locator = found[0]
    for i in range(min(await locator.count(), 20)):
        element = locator.nth(i)
        text = " ".join((await element.inner_text()).split())
        line = error_line(await element.get_attribute("aria-label"), text)
        if text:
            errors.append((line, text))
    return errors


async def add_to_chart(driver: Driver, wait_added: Any, *, timeout: float) -> None:
    """Click "Add to chart" and wait until `wait_added()` says the strategy is on the chart;
    TradingView's compile errors raise PineError with its message and line."""
    await driver.click("add_to_chart")
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        errors = await compile_errors(driver)
        if errors:
            line, text = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise PineError(f"TradingView could not compile the script: {text}{more}",
                            line=line)
        if await wait_added(0.0) is not None:
            return
        await asyncio.sleep(0.2)
    raise await driver.failure("add_to_chart", seconds=timeout,
                               detail="the strategy did not appear on the chart")
