"""The strategy's settings dialog: inputs by their label, properties by their field.

The dialog's list is virtual (only rows in view exist in the page), so a row is looked for,
and the list scrolled a page at a time from the top until it appears. Controls are found
from the label by document order, which holds for text fields, checkboxes, drop-downs and
TradingView's own combobox buttons alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tvdesk.engines.tradingview.chart import hover_and_click
from tvdesk.engines.tradingview.driver import Driver
from tvdesk.engines.tradingview.script_text import input_text
from tvdesk.exports.properties import same_value

PROPERTY_STEPS = {
    "initial_capital": "property_initial_capital",
    "default_qty_value": "property_order_size",
    "default_qty_type": "property_order_size_type",
    "pyramiding": "property_pyramiding",
    "commission_value": "property_commission",
    "slippage": "property_slippage",
}
"""strategy() arguments the settings dialog sets, and the selector step of each field."""

QTY_TYPE_OPTIONS = {"fixed": "Contracts", "percent_of_equity": "% of equity"}
"""The order-size unit's options; "cash" is the option named by the account currency."""


def qty_type_name(value: Any) -> str:
    """"strategy.percent_of_equity", "percent_of_equity" -> "percent_of_equity"."""
    name = str(value).strip().rsplit(".", 1)[-1].casefold()
    if name not in ("fixed", "cash", "percent_of_equity"):
        raise ValueError(f"order size type {value!r}: expected strategy.fixed, "
                         "strategy.cash or strategy.percent_of_equity")
    return name

_FIND_CONTROL = """(root, [title, tag]) => {
  const norm = s => (s || '').replace(/\\s+/g, ' ').trim();
  const want = norm(title);
  const controls = 'input, select, textarea, [role=combobox], [role=checkbox], [role=switch], ' +
                   '[role=spinbutton], button[aria-haspopup]';
  let label = null;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (el && norm(el.textContent) === want && el.offsetParent !== null) { label = el; break; }
  }
  if (!label) return null;
  let control = null;
  const wrapping = label.closest('label');
  if (wrapping) control = wrapping.querySelector(controls);
  if (!control) {
    for (const el of root.querySelectorAll(controls)) {
      if (label.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) {
        control = el; break;
      }
    }
  }
  if (!control) return null;
  for (const old of root.querySelectorAll('[data-tvdesk-control]')) {
    old.removeAttribute('data-tvdesk-control');
  }
  control.setAttribute('data-tvdesk-control', tag);
  const role = control.getAttribute('role');
  const kind = control.tagName === 'SELECT' ? 'select'
             : control.type === 'checkbox' ? 'checkbox'
             : (role === 'checkbox' || role === 'switch') ? 'toggle'
             : (role === 'combobox' || control.tagName === 'BUTTON') ? 'combobox' : 'text';
  return kind;
}"""

_SCROLL = """(el, fromTop) => {
  const before = el.scrollTop;
  el.scrollTop = fromTop ? 0 : el.scrollTop + Math.max(20, el.clientHeight * 0.8);
  return fromTop || el.scrollTop !== before;
}"""


async def open_dialog(driver: Driver, legend_item: Any) -> Any:
    """The settings dialog of the strategy whose legend item is given (open or opened)."""
    found = await driver.probe("settings_dialog")
    if found is not None:
        return found[0].first
    await hover_and_click(driver, legend_item, "legend_settings")
    return (await driver.find("settings_dialog")).first


async def _scroll_until(driver: Driver, rows: Any,
                        look: Callable[[], Awaitable[Any]]) -> Any:
    """Scroll the virtual list from the top until `look()` returns something."""
    moved = await rows.evaluate(_SCROLL, True)
    while moved:
        await asyncio.sleep(0.08)  # the list re-renders on scroll
        found = await look()
        if found is not None:
            return found
        moved = await rows.evaluate(_SCROLL, False)
    return None


async def _set_control(driver: Driver, control: Any, kind: str, value: Any) -> bool:
    """Make the control show `value`; True if it had to change."""
    await control.scroll_into_view_if_needed()
    if kind in ("checkbox", "toggle"):
        wanted = bool(value)
        if kind == "checkbox":
            current = await control.is_checked()
        else:
            current = (await control.get_attribute("aria-checked")) == "true"
        if current != wanted:
            await control.click()
            return True
        return False
    text = input_text(value)
    if kind == "select":
        current = await control.evaluate("el => el.options[el.selectedIndex]?.text ?? ''")
        if not same_value(text, current):
            await control.select_option(label=text)
            return True
        return False
    if kind == "combobox":
        current = " ".join((await control.inner_text()).split())
        if not same_value(text, current):
            await control.click()
            option = driver.page.get_by_role("option", name=text, exact=True)
            await option.first.click(timeout=driver.step_timeout * 1000)
            return True
        return False
    current = await control.input_value()
    if same_value(text, current):
        return False
    for _attempt in range(2):  # a pop-up that took the focus midway: clear it, type again
        await driver.clear_popups()
        await control.fill(text)
        if same_value(text, await control.input_value()):
            await control.press("Tab")
            return True
    raise await driver.failure("settings_rows", seconds=driver.step_timeout,
                               detail=f"a field did not keep {text!r} (read back "
                               f"{await control.input_value()!r})")


async def _set_qty_type(driver: Driver, control: Any, name: str) -> bool:
    """Pick the order-size unit: "Contracts", "% of equity", or for cash the one option that
    is neither (TradingView names it by the account currency)."""
    await control.scroll_into_view_if_needed()
    current = " ".join((await control.inner_text()).split())
    known = set(QTY_TYPE_OPTIONS.values())
    if name in QTY_TYPE_OPTIONS and current == QTY_TYPE_OPTIONS[name]:
        return False
    if name == "cash" and current and current not in known:
        return False
    await control.click()
    options = driver.page.get_by_role("option")
    await options.first.wait_for(timeout=driver.step_timeout * 1000)
    for index in range(await options.count()):
        option = options.nth(index)
        text = " ".join((await option.inner_text()).split())
        if (text == QTY_TYPE_OPTIONS.get(name)) or (name == "cash" and text not in known):
            await option.click()
            return True
    raise await driver.failure("property_order_size_type", seconds=driver.step_timeout,
                               detail=f"no option for the order size type {name!r}")


async def _set_input(driver: Driver, dialog: Any, rows: Any, title: str, value: Any,
                     index: int) -> bool:
    tag = f"c{index}"

    async def look() -> str | None:
        return await rows.evaluate(_FIND_CONTROL, [title, tag])

    kind = await look() or await _scroll_until(driver, rows, look)
    if kind is None:
        raise await driver.failure("settings_rows", seconds=driver.step_timeout,
                                   detail=f"no input labelled {title!r} in the Inputs tab")
    control = dialog.locator(f'[data-tvdesk-control="{tag}"]')
    return await _set_control(driver, control.first, kind, value)


async def apply_settings(driver: Driver, legend_item: Any, inputs: Mapping[str, Any],
                         properties: Mapping[str, Any]) -> bool:
    """Set inputs (title → value) and properties (strategy() argument → value), press Ok.
    True if anything changed (TradingView then recomputes the report). The property keys
    were checked against PROPERTY_STEPS before the run (run.check_request)."""
    if not inputs and not properties:
        driver.skipped("settings_dialog", "no inputs or properties to set")
        return False
    dialog = await open_dialog(driver, legend_item)
    changed = False
    if inputs:
        await driver.click("settings_inputs_tab", root=dialog)
        rows = (await driver.find("settings_rows", root=dialog)).first
        for index, (title, value) in enumerate(inputs.items()):
            changed |= await _set_input(driver, dialog, rows, title, value, index)
    if properties:
        await driver.click("settings_properties_tab", root=dialog)
        rows = (await driver.find("settings_rows", root=dialog)).first
        for key, value in properties.items():
            step = PROPERTY_STEPS[key]

            async def look(step: str = step) -> Any:
                found = await driver.probe(step, root=dialog)
                return found[0].first if found else None

            field = await look() or await _scroll_until(driver, rows, look)
            if field is None:
                raise await driver.failure(step, seconds=driver.step_timeout,
                                           detail="not found in the Properties tab")
            if key == "default_qty_type":
                changed |= await _set_qty_type(driver, field, qty_type_name(value))
            else:
                changed |= await _set_control(driver, field, "text", value)
    await driver.click("settings_ok", root=dialog)
    if await driver.wait_gone("settings_dialog"):
        return changed
    raise await driver.failure("settings_ok", seconds=driver.step_timeout,
                               detail="the settings dialog did not close (a value refused?)")
