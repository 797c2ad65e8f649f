"""Log in to TradingView once per browser profile, with TOTP 2FA, and never in a loop.

A session cookie in the persistent profile means no login at all. A captcha or "too many
attempts" stops at once (CaptchaRequired, exit 1) unless the browser is shown to the user,
who then finishes the login by hand while tvdesk waits for the session cookie.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tvdesk.engines.tradingview.driver import Driver
from tvdesk.engines.tradingview.errors import CaptchaRequired, LoginFailed
from tvdesk.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_URL = "https://www.tradingview.com"
SESSION_COOKIE = "sessionid"
FRESH_CODE_SECONDS = 5  # a code with less life left than this may expire in transit
HAND_LOGIN_SECONDS = 300.0


def base_url() -> str:
    """TradingView's address; TVDESK_TRADINGVIEW_URL moves every page (tests, mirrors)."""
    return (os.environ.get("TVDESK_TRADINGVIEW_URL") or DEFAULT_URL).rstrip("/")


@dataclass(frozen=True, slots=True)
class Urls:
    base: str

    @property
    def signin(self) -> str:
        return f"{self.base}/accounts/signin/"

    def chart(self, symbol: str, layout: str | None = None) -> str:
        where = f"/chart/{layout}/" if layout else "/chart/"
        return f"{self.base}{where}?symbol={quote(symbol, safe='')}"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The account, read from the keyring when needed; repr never shows the secrets."""

    username: str
    password: str = field(repr=False, default="")
    totp_secret: str | None = field(repr=False, default=None)

    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.totp_secret) if s]


def stored_credentials() -> Credentials:
    from tvdesk.secrets import get_secret

    username = get_secret("tradingview", "username")
    if not username:
        raise InputError("no TradingView account stored: run `tvdesk credentials set "
                         "tradingview` (username, password, TOTP secret)",
                         source="credentials tradingview")
    return Credentials(username, get_secret("tradingview", "password") or "",
                       get_secret("tradingview", "totp_secret") or None)


async def has_session(context: Any, urls: Urls) -> bool:
    cookies = await context.cookies(urls.base)
    return any(c.get("name") == SESSION_COOKIE and c.get("value") for c in cookies)


async def fresh_totp(secret: str, *, sleep: Callable[[float], Any] = asyncio.sleep) -> str:
    """The current code, or the next one when the current expires within a few seconds."""
    from tvdesk.secrets import totp_code

    code, left = totp_code(secret)
    if left < FRESH_CODE_SECONDS:
        await sleep(left + 0.5)
        code, _ = totp_code(secret)
    return code


async def _error_text(driver: Driver) -> str:
    """The sign-in form's error message as shown ("" when there is none)."""
    found = await driver.probe("signin_error")
    if found is None:
        return ""
    return " ".join((await found[0].first.inner_text()).split())


def _lockout(text: str) -> str | None:
    if "too many" in text.casefold() or "captcha" in text.casefold():
        return f"TradingView says {text!r} (a captcha lockout)"
    return None


async def _reveal_signin_form(driver: Driver, email: Any, attempts: int = 3) -> None:
    """Click "Email" until the username field shows.

    A click that lands before the page's script has wired the button does nothing, and the
    form stays hidden: on a loaded machine the whole sign-in then failed after the step
    timeout. Each attempt waits a few seconds for the field before clicking again; whatever
    happens, the username step that follows reports a form that never appeared.
    """
    for _attempt in range(attempts):
        await email.first.click()
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            if await driver.probe("signin_username") is not None:
                return
            await asyncio.sleep(0.1)


async def _captcha_or_lockout(driver: Driver, error: str) -> str | None:
    """Why TradingView wants a human, given the error text already read; None if it does
    not."""
    lockout = _lockout(error)
    if lockout is not None:
        return lockout
    if await driver.probe("captcha") is None:
        return None
    # The captcha often shows a moment before the message that explains it: say why.
    for _ in range(5):
        await asyncio.sleep(0.2)
        lockout = _lockout(await _error_text(driver))
        if lockout is not None:
            return lockout
    return "TradingView shows a captcha"


async def _wait_by_hand(driver: Driver, urls: Urls, reason: str, timeout: float) -> None:
    log.warning("%s: waiting up to %.0f s for the login to be finished by hand in the browser",
                reason, timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await has_session(driver.page.context, urls):
            return
        await asyncio.sleep(0.5)
    raise CaptchaRequired(f"{reason} and the login was not finished within {timeout:.0f} s")


async def log_in(driver: Driver, urls: Urls, credentials: Credentials, *,
                 interactive: bool = False, hand_timeout: float = HAND_LOGIN_SECONDS) -> str:
    """Sign in on `driver.page`. Returns "session reused" or "logged in".

    Exactly one attempt: a wrong password, a rejected code, a captcha or a lockout raise at
    once. With `interactive` (the browser is visible) a captcha is handed to the user.
    """
    context = driver.page.context
    if await has_session(context, urls):
        for key in ("signin_username", "signin_password", "signin_totp"):
            driver.skipped(key, "session reused")
        return "session reused"
    if not credentials.password:
        raise InputError("no TradingView password stored: run `tvdesk credentials set "
                         "tradingview`", source="credentials tradingview")
    page = driver.page
    await page.goto(urls.signin, wait_until="domcontentloaded")
    reason = await _captcha_or_lockout(driver, await _error_text(driver))
    if reason is None:
        email = await driver.wait_for("signin_email_button", timeout=driver.step_timeout / 2)
        if email is not None:
            await _reveal_signin_form(driver, email)
        await driver.fill("signin_username", credentials.username)
        await driver.fill("signin_password", credentials.password)
        await driver.click("signin_submit")
        reason = await _await_outcome(driver, urls, credentials)
    if reason is None:
        log.info("TradingView login done; the session stays in the browser profile")
        return "logged in"
    if interactive:
        await _wait_by_hand(driver, urls, reason, hand_timeout)
        return "logged in by hand"
    raise CaptchaRequired(reason)


async def _await_outcome(driver: Driver, urls: Urls, credentials: Credentials) -> str | None:
    """After Sign in: None when logged in, a captcha reason, or LoginFailed."""
    code_sent = False
    deadline = time.monotonic() + driver.step_timeout * 2
    while time.monotonic() < deadline:
        if await has_session(driver.page.context, urls):
            return None
        error = await _error_text(driver)
        reason = await _captcha_or_lockout(driver, error)
        if reason is not None:
            return reason
        if error:
            stage = "2FA code" if code_sent else "username or password"
            raise LoginFailed(f"TradingView refused the {stage}: {error}; check them with "
                              "`tvdesk credentials set tradingview`")
        if not code_sent:
            field_found = await driver.probe("signin_totp")
            if field_found is not None:
                if not credentials.totp_secret:
                    raise LoginFailed("TradingView asks for a 2FA code but no TOTP secret is "
                                      "stored: run `tvdesk credentials set tradingview`")
                box = field_found[0].first
                code = await fresh_totp(credentials.totp_secret)
                await box.fill(code)
                kept = "".join(ch for ch in await box.input_value() if ch.isdigit())
                if kept != code:  # a pop-up took the focus: clear it, type again next pass
                    await driver.clear_popups()
                    await asyncio.sleep(0.25)
                    continue
                await box.press("Enter")
                driver.record("signin_totp", field_found[1])
                code_sent = True
        await asyncio.sleep(0.25)
    raise LoginFailed(f"TradingView did not confirm the login within "
                      f"{driver.step_timeout * 2:g} s (no session cookie)")
