"""TradingViewEngine: the Engine protocol over a real Chromium driving TradingView.

One persistent browser profile per account (log in once; later runs reuse the session),
N pages in one browser context driven concurrently from one asyncio loop, a shared pacer, a
page that dies is reopened and its run retried once. Results are TradingView's own export,
read by the export reader, as `source="tradingview"`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tvdesk.config import TradingViewSettings
from tvdesk.engines.tradingview.browser import (
    diagnostics_dir,
    downloads_dir,
    find_browser,
    open_profile,
    profile_dir,
)
from tvdesk.engines.tradingview.driver import Driver, StepLog
from tvdesk.engines.tradingview.errors import CaptchaRequired, LoginFailed, TradingViewError
from tvdesk.engines.tradingview.layout import LayoutMemory
from tvdesk.engines.tradingview.loop_thread import LoopThread
from tvdesk.engines.tradingview.pacing import (
    Pacer,
    PacingLedger,
    pacing_ledger_path,
    risk_warnings,
)
from tvdesk.engines.tradingview.run import (
    PageState,
    RunLimits,
    SignedOut,
    check_request,
    run_on_page,
)
from tvdesk.engines.tradingview.selectors import SelectorBook, load_selectors
from tvdesk.engines.tradingview.session import (
    SESSION_COOKIE,
    Credentials,
    Urls,
    base_url,
    log_in,
    stored_credentials,
)
from tvdesk.model import BacktestRequest, BacktestResult

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Page:
    page: Any
    driver: Driver
    state: PageState


class TradingViewEngine:
    """Backtests on TradingView. `show_browser` makes the window visible and lets the user
    finish a login by hand (captcha); headless runs stop at a captcha instead."""

    name = "tradingview"

    def __init__(self, settings: TradingViewSettings | None = None, *,
                 pages: int | None = None, show_browser: bool | None = None,
                 credentials: Callable[[], Credentials] = stored_credentials,
                 notify: Callable[[str], None] | None = None,
                 book: SelectorBook | None = None, hand_login: bool | None = None) -> None:
        self.settings = settings or TradingViewSettings()
        self.page_count = pages or self.settings.pages
        self.headless = self.settings.headless if show_browser is None else not show_browser
        # A captcha is handed to the user only when they can see the browser.
        self.hand_login = (not self.headless) if hand_login is None else hand_login
        self.urls = Urls(base_url())
        self.notify = notify or (lambda message: log.warning("%s", message))
        self.book = book or load_selectors()
        self.step_log = StepLog()
        self.login_outcome: str | None = None
        self.browser_path: str | None = None
        self.warnings = risk_warnings(self.settings, self.page_count)
        self._credentials_source = credentials
        self._credentials: Credentials | None = None
        self._thread: LoopThread | None = None
        self._playwright: Any = None
        self._context: Any = None
        self._idle: asyncio.Queue[_Page] | None = None
        self._pacer: Pacer | None = None
        self._layout: LayoutMemory | None = None
        self._login_lock: asyncio.Lock | None = None
        self._start_lock: asyncio.Lock | None = None
        # A login TradingView refused (or a captcha) is not tried again until close():
        # repeated logins are what triggers captchas and bans.
        self._login_error: BaseException | None = None
        self._login_generation = 0
        self._limits = RunLimits(self.settings.step_timeout, self.settings.report_timeout)

    # ----------------------------------------------------------------- public (any loop)

    async def start(self) -> str:
        """Open the browser and make sure the account is logged in; returns how."""
        if self._thread is None:
            self._thread = LoopThread()
        return await self._thread.call(self._start())

    async def run(self, request: BacktestRequest) -> BacktestResult:
        check_request(request)  # a bad flag is said before a browser opens or a login
        await self.start()
        assert self._thread is not None
        return await self._thread.call(self._run(request))

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        try:
            await thread.call(self._shutdown())
        finally:
            thread.stop()

    async def __aenter__(self) -> TradingViewEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ----------------------------------------------------------------- the browser's loop

    def _secrets(self) -> list[str]:
        """What diagnostics and error texts must not show: the password, the TOTP secret and
        (for privacy) the account's e-mail or username."""
        if self._credentials is None:
            return []
        return [*self._credentials.secrets(), self._credentials.username]

    async def _open_window(self) -> Any:
        """A new page in a window of its own. A second *tab* would be a background tab, where
        Chromium stops animation frames: the page's UI stalls and Playwright's "stable"
        check never passes. Pages in separate windows are all in front."""
        assert self._context is not None
        with contextlib.suppress(Exception):
            opener = next((p for p in self._context.pages if not p.is_closed()), None)
            if opener is not None:
                cdp = await self._context.new_cdp_session(opener)
                try:
                    async with self._context.expect_page(timeout=10_000) as info:
                        await cdp.send("Target.createTarget",
                                       {"url": "about:blank", "newWindow": True})
                    return await info.value
                finally:
                    await cdp.detach()
        return await self._context.new_page()  # not Chromium: a plain new page

    async def _new_page(self, page: Any | None = None) -> _Page:
        assert self._context is not None
        page = page or await self._open_window()
        page.set_default_timeout(self.settings.step_timeout * 1000)
        for popup in self.book.popups:
            overlay = page.locator(popup.overlay).first  # strict-mode safe (see below)

            async def close(found: Any, popup: Any = popup) -> None:
                log.info("closing a TradingView pop-up (%s)", popup.what)
                self.step_log.popups[popup.what] += 1  # `tv check` lists what got in the way
                try:
                    await found.locator(popup.close).first.click(timeout=3000)
                except Exception:  # a pop-up without its button: Escape closes most
                    await found.page.keyboard.press("Escape")

            await page.add_locator_handler(overlay, close)
        driver = Driver(page, self.book, step_timeout=self.settings.step_timeout,
                        diagnostics=diagnostics_dir(), secrets=self._secrets(),
                        log=self.step_log)

        async def clear(_found: Any) -> None:
            await driver.clear_popups()  # tvdesk's own dialogs are left alone there

        # Any blocking dialog in the way of an action (a hover, a click on a located element)
        # goes through the same rules as between steps; tvdesk's own dialogs match this
        # locator too, so Playwright must not wait for it to vanish.
        # `.first`: Playwright checks a handler's locator in strict mode, and two dialogs at
        # once (the settings dialog and an offer) would fail the action itself.
        await page.add_locator_handler(page.locator(self.book.modals.blocking).first, clear,
                                       no_wait_after=True)
        return _Page(page, driver, PageState())

    async def _start(self) -> str:
        # Runs on the engine's loop only, so creating the lock here cannot race.
        self._start_lock = self._start_lock or asyncio.Lock()
        async with self._start_lock:
            if self._login_error is not None:
                raise self._login_error
            if self._context is not None and self._idle is not None:
                assert self.login_outcome is not None
                return self.login_outcome
            try:
                return await self._launch()
            except (CaptchaRequired, LoginFailed) as exc:
                self._login_error = exc
                raise

    async def _launch(self) -> str:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import async_playwright

        for warning in self.warnings:
            self.notify(f"warning: {warning}")
        credentials = self._credentials_source()
        self._credentials = credentials
        self._playwright = await async_playwright().start()
        try:
            choice = find_browser(self.settings.browser,
                                  bundled=self._playwright.chromium.executable_path)
            self.browser_path = choice.path
            profile = profile_dir(credentials.username)
            self._context = await open_profile(
                self._playwright, profile, executable=choice.path,
                headless=self.headless, base_url=self.urls.base)
            # Remembered next to the profile: one layout per browser profile and site.
            self._layout = LayoutMemory(profile.parent / f"{profile.name}-layout.json")
            first = await self._new_page(self._context.pages[0] if self._context.pages
                                         else None)
            self._login_lock = asyncio.Lock()
            self.login_outcome = await log_in(first.driver, self.urls, credentials,
                                              interactive=self.hand_login)
            self._idle = asyncio.Queue()
            self._idle.put_nowait(first)
            for _ in range(self.page_count - 1):
                self._idle.put_nowait(await self._new_page())
            low, high = self.settings.pause_seconds
            self._pacer = Pacer((low, high), self.settings.runs_per_hour, notify=self.notify,
                                ledger=PacingLedger(pacing_ledger_path(),
                                                    credentials.username))
        except PlaywrightError as exc:
            await self._shutdown()
            from tvdesk.secrets import mask

            text = str(exc).strip()
            line = mask(text.splitlines()[0] if text else type(exc).__name__,
                        credentials.secrets())
            raise TradingViewError(f"cannot open TradingView at {self.urls.base}: {line}") \
                from None
        except BaseException:
            await self._shutdown()
            raise
        log.info("TradingView: %s, %d page(s), browser %s (%s)", self.login_outcome,
                 self.page_count, choice.path, choice.origin)
        return self.login_outcome

    async def _relogin(self, slot: _Page) -> None:
        assert self._login_lock is not None and self._credentials is not None
        generation = self._login_generation
        async with self._login_lock:
            if self._login_generation != generation:
                return  # another page logged in again meanwhile: its session serves all

            # TradingView sent us to sign in, so the kept session cookie is stale: drop it,
            # or log_in would take it for a live session.
            with contextlib.suppress(Exception):
                await slot.page.context.clear_cookies(name=SESSION_COOKIE)
            try:
                await log_in(slot.driver, self.urls, self._credentials,
                             interactive=self.hand_login)
            except (CaptchaRequired, LoginFailed) as exc:
                self._login_error = exc
                raise
            self._login_generation += 1

    async def _reopen(self, slot: _Page) -> _Page:
        with contextlib.suppress(Exception):
            await slot.page.close()
        log.warning("TradingView page died; opening a new one")
        return await self._new_page()

    async def _run(self, request: BacktestRequest) -> BacktestResult:
        from playwright.async_api import Error as PlaywrightError

        idle, pacer = self._idle, self._pacer  # close() may clear them while this unwinds
        assert idle is not None and pacer is not None
        slot = await idle.get()
        try:
            for attempt in (1, 2):
                await pacer.slot()
                try:
                    return await run_on_page(slot.driver, slot.state, request, self.urls,
                                             self._limits, downloads_dir(),
                                             layout=self._layout)
                except SignedOut:
                    if attempt == 2:
                        raise TradingViewError("TradingView keeps sending the page to its "
                                               "sign-in form after a login") from None
                    slot.state.reset()
                    try:
                        await self._relogin(slot)
                    except PlaywrightError as exc:
                        raise await self._browser_error(slot, exc) from None
                except PlaywrightError as exc:
                    slot.state.reset()
                    died = slot.page.is_closed() or "crash" in str(exc).lower()
                    if attempt == 1 and died:
                        try:
                            slot = await self._reopen(slot)
                        except PlaywrightError as reopen_error:
                            raise await self._browser_error(slot, reopen_error) from None
                        continue
                    raise await self._browser_error(slot, exc) from None
                finally:
                    pacer.finished()
            raise TradingViewError("the TradingView page died twice in one run")
        except BaseException:
            slot.state.reset()  # cancelled or failed mid-flow: the page state is unknown
            raise
        finally:
            idle.put_nowait(slot)

    async def _browser_error(self, slot: _Page, exc: Exception) -> TradingViewError:
        from tvdesk.engines.tradingview.diagnostics import save_diagnostics
        from tvdesk.secrets import mask

        log.warning("browser error during a TradingView run", exc_info=exc)
        text = str(exc).strip()
        first = mask(text.splitlines()[0] if text else type(exc).__name__, self._secrets())
        saved = None
        if not slot.page.is_closed():
            saved = await save_diagnostics(slot.page, "browser-error", diagnostics_dir(),
                                           self._secrets())
        where = f"; screenshot and page saved in {saved.parent}" if saved else ""
        return TradingViewError(f"the browser failed during the TradingView run: {first}{where}")

    async def _shutdown(self) -> None:
        # Loop-bound objects go with this loop: a later start() runs on a new one.
        self._idle = self._pacer = self._login_lock = None
        self._login_error = None
        if self._start_lock is not None and not self._start_lock.locked():
            self._start_lock = None
        context, self._context = self._context, None
        playwright, self._playwright = self._playwright, None
        if context is not None:
            with contextlib.suppress(Exception):
                await context.close()
        if playwright is not None:
            with contextlib.suppress(Exception):
                await playwright.stop()
