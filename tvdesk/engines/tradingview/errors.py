"""What can go wrong on TradingView, each with a message a trader can act on (exit 1)."""

from __future__ import annotations

from tvdesk.errors import EngineError, TvdeskError

HAND_LOGIN = ("finish the login by hand: run `tvdesk credentials check tradingview "
              "--show-browser` (or Credentials → Check login… in the GUI), solve the "
              "captcha in the browser window, and tvdesk keeps that session for later runs")


class TradingViewError(EngineError):
    """A TradingView run failed (the site, the session or the browser)."""


class StepFailed(TradingViewError):
    """A step of the flow found none of its selectors: TradingView probably changed its page."""

    def __init__(self, step: str, what: str, tried: str, *, seconds: float,
                 diagnostics: str | None = None, detail: str = "") -> None:
        self.step = step
        self.tried = tried
        self.diagnostics = diagnostics
        message = (f"TradingView step '{step}' ({what}) failed: none of these matched within "
                   f"{seconds:g} s: {tried}")
        if detail:
            message += f" ({detail})"
        message += ". TradingView may have changed its page; `tvdesk tv check` shows which " \
                   "steps still work"
        if diagnostics:
            message += f"; screenshot and page saved in {diagnostics}"
        super().__init__(message)


class CaptchaRequired(TradingViewError):
    """TradingView wants a human (captcha, or "too many attempts"): never retried in a loop."""

    def __init__(self, reason: str = "TradingView shows a captcha") -> None:
        super().__init__(f"{reason}: tvdesk does not solve a captcha or retry the login; "
                         f"{HAND_LOGIN}")


class LoginFailed(TradingViewError):
    """TradingView refused the username, password or 2FA code."""


class StaleExport(TradingViewError):
    """The exported report does not echo what was asked for, even after one retry."""


class BrowserNotFound(TvdeskError):
    """No Chrome/Chromium to drive."""

    exit_code = 2


class ProfileInUse(TradingViewError):
    """Another browser (another tvdesk) already uses this account's profile folder."""
