"""Find a Chromium to drive and open the account's persistent profile in it.

A persistent profile (not an ephemeral context) because TradingView's Pine Editor hangs in
ephemeral contexts and because the session cookie must survive between runs: logging in again
and again is what triggers captchas and bans.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvdesk import paths
from tvdesk.engines.tradingview.errors import BrowserNotFound, ProfileInUse, TradingViewError

# Quiet, deterministic Chromium: no background traffic (blocked networks refuse it loudly),
# no first-run UI, English UI. --no-sandbox only when running as root, where Chromium
# refuses to start otherwise.
CHROMIUM_ARGS = (
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=en-US",
)
LOCALE = "en-US"
VIEWPORT = {"width": 1440, "height": 900}

_SYSTEM_NAMES = ("google-chrome", "google-chrome-stable", "chromium", "chromium-browser",
                 "chrome", "microsoft-edge")
_WINDOWS_PATHS = (r"Google\Chrome\Application\chrome.exe", r"Chromium\Application\chrome.exe",
                  r"Microsoft\Edge\Application\msedge.exe")
_MAC_PATHS = ("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
              "/Applications/Chromium.app/Contents/MacOS/Chromium")

INSTALL_HINT = ("install Google Chrome or Chromium (Debian/Ubuntu: `sudo apt-get install "
                "chromium`), or Playwright's own build (`python -m playwright install "
                "chromium`), or name an executable with TVDESK_BROWSER or the config key "
                "tradingview.browser")


@dataclass(frozen=True, slots=True)
class BrowserChoice:
    path: str
    origin: str  # "TVDESK_BROWSER", "config", "playwright", "system"


def _system_chrome() -> str | None:
    for name in _SYSTEM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if sys.platform == "win32":
        for root in filter(None, (os.environ.get("PROGRAMFILES"),
                                  os.environ.get("PROGRAMFILES(X86)"),
                                  os.environ.get("LOCALAPPDATA"))):
            for rel in _WINDOWS_PATHS:
                candidate = Path(root) / rel
                if candidate.exists():
                    return str(candidate)
    if sys.platform == "darwin":
        for candidate in _MAC_PATHS:
            if Path(candidate).exists():
                return candidate
    return None


def find_browser(configured: str | None = None, bundled: str | None = None) -> BrowserChoice:
    """TVDESK_BROWSER, then the config key, then Playwright's own browser (`bundled`: where
    Playwright would keep it), then Chrome/Chromium installed on the system."""
    for origin, value in (("TVDESK_BROWSER", os.environ.get("TVDESK_BROWSER")),
                          ("config", configured)):
        if value:
            path = shutil.which(value) or value
            if not Path(path).is_file():
                where = "the environment variable TVDESK_BROWSER" if origin != "config" \
                    else "the config key tradingview.browser"
                raise BrowserNotFound(f"{where} names {value!r}, which is not an executable "
                                      f"file; {INSTALL_HINT}")
            return BrowserChoice(str(path), origin)
    if bundled and Path(bundled).is_file():
        return BrowserChoice(bundled, "playwright")
    found = _system_chrome()
    if found:
        return BrowserChoice(found, "system")
    raise BrowserNotFound(f"no Chrome or Chromium found; {INSTALL_HINT}")


def profile_dir(username: str) -> Path:
    """The account's browser profile: one folder per account, named by a hash (no e-mail in
    folder names)."""
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:16]
    return paths.data_dir() / "browser" / f"tradingview-{digest}"


def downloads_dir() -> Path:
    return paths.data_dir() / "sheets"


def diagnostics_dir() -> Path:
    return paths.log_dir() / "diagnostics"


def launch_args(headless: bool) -> list[str]:
    args = list(CHROMIUM_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    if headless:
        args.append("--hide-scrollbars")
    return args


async def open_profile(playwright: Any, profile: Path, *, executable: str,
                       headless: bool, base_url: str) -> Any:
    """A persistent context on `profile`: English UI, downloads accepted, clipboard allowed."""
    from playwright.async_api import Error as PlaywrightError

    profile.mkdir(parents=True, exist_ok=True)
    try:
        context = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=headless,
            args=launch_args(headless), locale=LOCALE, viewport=VIEWPORT,
            accept_downloads=True, timezone_id="UTC",
            extra_http_headers={"Accept-Language": "en-US,en;q=0.9"},
        )
    except PlaywrightError as exc:
        text = str(exc)
        if "ProcessSingleton" in text or "SingletonLock" in text or "already in use" in text:
            raise ProfileInUse(f"the browser profile {profile} is in use by another browser "
                               "(another tvdesk run?); close it or wait for it to finish") \
                from None
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise TradingViewError(f"the browser {executable} did not start: {first} (a broken "
                               f"install or missing system libraries?); {INSTALL_HINT}") \
            from None
    # An old browser without the clipboard permission: the editor falls back to typing.
    with contextlib.suppress(PlaywrightError):
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    return context
