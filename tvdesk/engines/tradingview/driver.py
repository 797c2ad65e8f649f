"""Find elements by step name, trying each step's candidates, and remember which one worked.

Every interaction with TradingView goes through a `Driver`, so a changed page always fails
the same way: `StepFailed` naming the step, what it is for and every selector tried, with a
screenshot and the page's HTML saved. The `StepLog` of a driver is what `tvdesk tv check`
prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tvdesk.engines.tradingview.errors import StepFailed
from tvdesk.engines.tradingview.selectors import Candidate, SelectorBook, Step

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
GONE_POLL_SECONDS = 0.1
ACTION_TRIES = 3
RETRY_PAUSE = 0.5  # seconds, doubled on the second retry


@dataclass(slots=True)
class StepRecord:
    step: str
    what: str
    status: str  # "ok", "failed", "absent" (optional step not shown), "skipped"
    matched: str = ""
    position: int = 0  # 1 = first candidate; >1 means the preferred selectors broke
    seconds: float = 0.0
    note: str = ""


@dataclass(slots=True)
class StepLog:
    records: list[StepRecord] = field(default_factory=list)
    popups: Counter[str] = field(default_factory=Counter)  # closed pop-ups by what they were
    unknown_modals: Counter[str] = field(default_factory=Counter)  # by their (masked) text
    left_open: Counter[str] = field(default_factory=Counter)  # modals with fields, not closed

    def add(self, record: StepRecord) -> None:
        # One line per step: the latest outcome replaces an earlier one of the same step.
        for i, old in enumerate(self.records):
            if old.step == record.step:
                if old.status == "ok" and record.status in ("absent", "skipped"):
                    return  # it worked once this run: that is what the check reports
                self.records[i] = record
                return
        self.records.append(record)


_SHOWN_JS = """(el) => {
  if (!el.isConnected) return false;
  const style = getComputedStyle(el);
  if (style.display === 'none' || style.visibility === 'hidden') return false;
  const box = el.getBoundingClientRect();
  return box.width > 0 && box.height > 0;
}"""

# Finds, in one round trip, the known pop-ups shown (by index) and every shown blocking dialog
# that is neither tvdesk's own nor inside a known pop-up; each of those is tagged with a
# fresh `data-tvdesk-modal` number so a locator can reach exactly it.
_SCAN_JS = """
([known, blocking, own, fields]) => {
  const shown = """ + _SHOWN_JS + """;
  const matches = (el, sel) => {
    try { return !!(sel && el.closest(sel)); } catch (e) { return false; }
  };
  const found = [];
  known.forEach((sel, index) => {
    try {
      if (Array.from(document.querySelectorAll(sel)).some(shown)) found.push({index});
    } catch (e) {}
  });
  let modals = [];
  try { modals = Array.from(document.querySelectorAll(blocking)); } catch (e) {}
  for (const el of modals) {
    if (!shown(el) || matches(el, own) || known.some((sel) => matches(el, sel))) continue;
    try { if (own && el.querySelector(own)) continue; } catch (e) {}
    if (el.parentElement && el.parentElement.closest('[data-tvdesk-modal]')) continue;
    window.__tvdeskModal = (window.__tvdeskModal || 0) + 1;
    const tag = String(window.__tvdeskModal);
    el.setAttribute('data-tvdesk-modal', tag);
    let hasFields = false;
    try { hasFields = !!el.querySelector(fields); } catch (e) {}
    const text = el.getAttribute('aria-label') || el.innerText || '';
    found.push({index: -1, tag, fields: hasFields, text: text.trim().slice(0, 200)});
  }
  return found;
}
"""


_CLOSE_JS = """([containerCss, closeParts, names]) => {
  const shown = """ + _SHOWN_JS + """;
  const all = (root, css) => { try { return Array.from(root.querySelectorAll(css)); }
                               catch (e) { return []; } };
  const container = all(document, containerCss).find(shown);
  if (!container) return 'gone';
  let button = null;
  for (const [css, text] of closeParts) {
    button = all(container, css).find((b) => shown(b) && (!text || (b.innerText || '')
      .toLowerCase().includes(text.toLowerCase())));
    if (button) break;
  }
  if (!button) {
    const wanted = new Set(names.map((n) => n.trim().toLowerCase()));
    const named = (b) => [b.getAttribute('aria-label'), b.innerText].some(
      (t) => t && wanted.has(t.trim().toLowerCase()));
    button = all(container, 'button, [role="button"]').find((b) => shown(b) && named(b));
  }
  if (button) { button.click(); return 'button'; }
  const target = container.contains(document.activeElement) ? document.activeElement : container;
  for (const type of ['keydown', 'keyup']) {
    target.dispatchEvent(new KeyboardEvent(type, {key: 'Escape', code: 'Escape', keyCode: 27,
                                                   bubbles: true, cancelable: true}));
  }
  return 'escape';
}"""
_GONE_JS = """(containerCss) => {
  const shown = """ + _SHOWN_JS + """;
  try { return !Array.from(document.querySelectorAll(containerCss)).some(shown); }
  catch (e) { return true; }
}"""
_HAS_FOCUS_JS = "(el) => el === document.activeElement || el.contains(document.activeElement)"
_FREE_FOCUS_JS = """() => {
  const active = document.activeElement;
  return !active || active === document.body || !active.closest(
    "[aria-modal='true'], [role='dialog'], [role='alertdialog'], input, textarea, select, "
    + "[contenteditable='true']");
}"""


_HAS_TEXT = re.compile(r"^(.*?):has-text\((['\"])(.*)\2\)$")


def _css_parts(selector_list: str) -> list[tuple[str, str]]:
    """A selector list as (CSS, text the element must contain) pairs, for the page's own
    querySelectorAll: Playwright's `button:has-text('Accept')` becomes ("button", "Accept")."""
    parts: list[tuple[str, str]] = []
    for part in (p.strip() for p in selector_list.split(",")):
        if not part:
            continue
        match = _HAS_TEXT.match(part)
        parts.append((match.group(1) or "*", match.group(3)) if match else (part, ""))
    return parts


def build_locator(root: Any, candidate: Candidate) -> Any:
    """A Playwright locator for one candidate under `root` (a page or a locator)."""
    if candidate.kind == "role":
        if candidate.name is not None:
            return root.get_by_role(candidate.value, name=candidate.name, exact=True)
        if candidate.name_regex is not None:
            return root.get_by_role(candidate.value,
                                    name=re.compile(candidate.name_regex, re.IGNORECASE))
        return root.get_by_role(candidate.value)
    if candidate.kind == "label":
        return root.get_by_label(candidate.value, exact=True)
    if candidate.kind == "placeholder":
        return root.get_by_placeholder(candidate.value, exact=True)
    if candidate.kind == "text":
        return root.get_by_text(candidate.value, exact=True)
    return root.locator(candidate.value)


class Driver:
    """One page, the selector book, the timeouts and the diagnostics folder."""

    def __init__(self, page: Any, book: SelectorBook, *, step_timeout: float,
                 diagnostics: Path, secrets: Iterable[str | None] = (),
                 log: StepLog | None = None) -> None:
        self.page = page
        self.book = book
        self.step_timeout = step_timeout
        self.diagnostics = diagnostics
        self.secrets = [s for s in secrets if s]
        self.log = log if log is not None else StepLog()
        self._clearing = False

    async def clear_popups(self) -> int:
        """Close every pop-up and foreign blocking dialog shown now; how many were closed.

        Called before every step and inside every probe and wait, because TradingView's offers
        open at random moments, take the keyboard focus and (being aria-modal) hide the rest
        of the page from role queries; Playwright's locator handlers only run around actions.
        One page evaluation finds them all, so a clear page costs one round trip.
        """
        if self._clearing or self.page.is_closed():
            return 0
        self._clearing = True
        try:
            modals = self.book.modals
            try:
                found = await self.page.evaluate(
                    _SCAN_JS, [[p.overlay for p in self.book.popups], modals.blocking,
                               modals.own, modals.fields])
            except Exception:  # the page navigated mid-scan: the next poll scans again
                return 0
            closed = 0
            for item in found:
                if item["index"] >= 0:
                    popup = self.book.popups[item["index"]]
                    if await self._close(popup.overlay, popup.close, ()):
                        self.log.popups[popup.what] += 1
                        closed += 1
                    continue
                text = self._masked(item["text"]) or "(no text)"
                modal = f"[data-tvdesk-modal='{item['tag']}']"
                if item["fields"]:
                    if text not in self.log.left_open:
                        await self._diagnose("modal_with_fields")
                    self.log.left_open[text] += 1
                    continue
                if await self._close(modal, modals.close, modals.close_names):
                    if text not in self.log.unknown_modals:
                        log.info("closed a dialog tvdesk does not know: %s", text)
                        await self._diagnose("unknown_modal")
                    self.log.unknown_modals[text] += 1
                    closed += 1
            return closed
        finally:
            self._clearing = False

    async def _close(self, container: str, close_css: str, names: tuple[str, ...]) -> bool:
        """Press the close button of the dialog `container` (CSS) finds, by CSS and then by
        name, else Escape inside it; True when it is gone within a second.

        It all happens in the page (`element.click()`, a keydown event): a Playwright action
        would first run the locator handlers, which see this very dialog and start closing it
        too, and the action would then wait for an element that is gone.
        """
        try:
            await self.page.evaluate(_CLOSE_JS, [container, _css_parts(close_css), list(names)])
        except Exception:
            return False
        for _ in range(10):
            with contextlib.suppress(Exception):
                if await self.page.evaluate(_GONE_JS, container):
                    return True
            await asyncio.sleep(GONE_POLL_SECONDS)
        return False

    async def focus(self, key: str, element: Any) -> None:
        """Click `element` and make sure it (or something inside it) has the keyboard focus
        before anyone types: a pop-up that opened meanwhile would take the keys otherwise."""
        for attempt in range(ACTION_TRIES):
            await self.clear_popups()
            with contextlib.suppress(Exception):
                await element.click(timeout=self._ms(None) / 2)
                if await element.evaluate(_HAS_FOCUS_JS):
                    return
            await asyncio.sleep(RETRY_PAUSE * (attempt + 1))
        raise await self.failure(key, seconds=self.step_timeout,
                                 detail="the element never kept the keyboard focus (a dialog "
                                 "took it each time)")

    async def focus_is_free(self) -> bool:
        """Whether typing now reaches the page itself (TradingView's shortcuts), not a field
        or a dialog that holds the focus."""
        await self.clear_popups()
        try:
            return bool(await self.page.evaluate(_FREE_FOCUS_JS))
        except Exception:
            return False

    def _masked(self, text: str) -> str:
        from tvdesk.secrets import mask

        return " ".join(mask(text, self.secrets).split())[:100]

    async def _diagnose(self, name: str) -> None:
        from tvdesk.engines.tradingview.diagnostics import save_diagnostics

        with contextlib.suppress(Exception):
            await save_diagnostics(self.page, name, self.diagnostics, self.secrets)

    async def _scope(self, step: Step, root: Any) -> Any:
        if root is not None:
            return root
        if step.scope is None:
            return self.page
        return await self.find(step.scope)

    async def probe(self, key: str, *, root: Any = None) -> tuple[Any, int] | None:
        """The first candidate with a visible match right now, and its position (1-based).

        Candidates are asked one after another, so an element that appears meanwhile can
        answer to a later, weaker selector first; before a fallback is reported, the
        earlier candidates are asked once more.
        """
        step = self.book[key]
        await self.clear_popups()
        scope = await self._scope(step, root)
        found = await self._first_visible(scope, step.candidates)
        if found is not None and found[1] > 1:
            earlier = await self._first_visible(scope, step.candidates[:found[1] - 1])
            if earlier is not None:
                return earlier
        return found

    async def _first_visible(self, scope: Any,
                             candidates: tuple[Candidate, ...]) -> tuple[Any, int] | None:
        for position, candidate in enumerate(candidates, start=1):
            locator = build_locator(scope, candidate).filter(visible=True)
            try:
                if await locator.count():
                    return locator, position
            except Exception:  # a detached scope or a bad CSS in a user file
                if self.page.is_closed():
                    raise  # the page died: the engine reopens it, no use waiting
                continue
        return None

    async def wait_for(self, key: str, *, timeout: float | None = None,
                       root: Any = None) -> Any | None:
        """Poll the step's candidates until one is visible; None after `timeout` seconds."""
        step = self.book[key]
        limit = self.step_timeout if timeout is None else timeout
        started = time.monotonic()
        while True:
            found = await self.probe(key, root=root)
            elapsed = time.monotonic() - started
            if found is not None:
                locator, position = found
                self.log.add(StepRecord(key, step.what, "ok",
                                        step.candidates[position - 1].describe(), position,
                                        elapsed))
                return locator
            if elapsed >= limit:
                self.log.add(StepRecord(key, step.what, "absent" if step.optional else "failed",
                                        seconds=elapsed))
                return None
            await asyncio.sleep(POLL_SECONDS)

    async def find(self, key: str, *, timeout: float | None = None, root: Any = None,
                   detail: str = "") -> Any:
        """The step's element(s), or StepFailed with diagnostics."""
        found = await self.wait_for(key, timeout=timeout, root=root)
        if found is None:
            limit = self.step_timeout if timeout is None else timeout
            raise await self.failure(key, seconds=limit, detail=detail)
        return found

    async def wait_gone(self, key: str, *, timeout: float | None = None) -> bool:
        """Poll until the step's element is no longer shown (a dialog closed, a box applied);
        False if it is still there after `timeout` (default: the step timeout)."""
        deadline = time.monotonic() + (self.step_timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            if await self.probe(key) is None:
                return True
            await asyncio.sleep(GONE_POLL_SECONDS)
        return False

    async def failure(self, key: str, *, seconds: float, detail: str = "") -> StepFailed:
        from tvdesk.engines.tradingview.diagnostics import save_diagnostics

        step = self.book[key]
        stem = await save_diagnostics(self.page, key, self.diagnostics, self.secrets)
        return StepFailed(key, step.what, step.tried(), seconds=seconds,
                          diagnostics=str(stem.parent) if stem else None, detail=detail)

    async def click(self, key: str, *, timeout: float | None = None, root: Any = None) -> Any:
        return await self._act(key, "click", (), timeout=timeout, root=root)

    async def fill(self, key: str, text: str, *, root: Any = None) -> Any:
        """Fill the field and read it back: a dialog that took the focus midway, or a page
        script that reformatted the text, is caught here rather than in a wrong result."""
        for _attempt in range(ACTION_TRIES):
            locator = await self._act(key, "fill", (text,), timeout=None, root=root)
            try:
                if await locator.first.input_value() == text:
                    return locator
            except Exception:  # not a form field (a custom editor): nothing to read back
                return locator
            await self.clear_popups()
        raise await self.failure(key, seconds=self.step_timeout,
                                 detail="the field did not keep what was typed into it")

    async def _act(self, key: str, action: str, args: tuple[Any, ...], *,
                   timeout: float | None, root: Any) -> Any:
        """Find the element and act on it; an element that re-rendered or moved under the
        pointer is found again and retried with a growing pause (3 tries)."""
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        for attempt in range(ACTION_TRIES):
            locator = await self.find(key, timeout=timeout, root=root)
            try:
                await getattr(locator.first, action)(*args, timeout=self._ms(timeout) / 2)
                return locator
            except PlaywrightTimeout:
                if attempt == ACTION_TRIES - 1 or self.page.is_closed():
                    raise await self.failure(key, seconds=self.step_timeout,
                                             detail=f"found, but {action} did not go through "
                                             f"after {ACTION_TRIES} tries") from None
                await asyncio.sleep(RETRY_PAUSE * (attempt + 1))
        raise AssertionError("unreachable")

    def record(self, key: str, position: int, seconds: float = 0.0) -> None:
        """Log a step found by `probe` (callers that poll several steps at once)."""
        step = self.book[key]
        self.log.add(StepRecord(key, step.what, "ok", step.candidates[position - 1].describe(),
                                position, seconds))

    def skipped(self, key: str, note: str) -> None:
        step = self.book[key]
        self.log.add(StepRecord(key, step.what, "skipped", note=note))

    def _ms(self, timeout: float | None) -> float:
        return 1000 * (self.step_timeout if timeout is None else timeout)
