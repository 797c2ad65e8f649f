"""Find elements by step name, trying each step's candidates, and remember which one worked.

Every interaction with TradingView goes through a `Driver`, so a changed page always fails
the same way: `StepFailed` naming the step, what it is for and every selector tried, with a
screenshot and the page's HTML saved. The `StepLog` of a driver is what `tvdesk tv check`
prints.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tvdesk.engines.tradingview.errors import StepFailed
from tvdesk.engines.tradingview.selectors import Candidate, SelectorBook, Step

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

    def add(self, record: StepRecord) -> None:
        # One line per step: the latest outcome replaces an earlier one of the same step.
        for i, old in enumerate(self.records):
            if old.step == record.step:
                if old.status == "ok" and record.status in ("absent", "skipped"):
                    return  # it worked once this run: that is what the check reports
                self.records[i] = record
                return
        self.records.append(record)


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
        return await self._act(key, "fill", (text,), timeout=None, root=root)

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
