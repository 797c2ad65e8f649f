"""Fixtures of the TradingView tests (engine, CLI and GUI): the fake site and the browser.

Both need something from outside Python (Monaco through npm, a Chromium binary). Without it
the tests are skipped on a developer's machine and fail in CI (CI=true), where a skip would
hide a broken setup.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from fake_tradingview import FakeTradingView, ensure_monaco


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def fake_tv() -> Iterator[FakeTradingView]:
    """A running fake TradingView (default account, 2FA on, pop-ups on)."""
    try:
        monaco = ensure_monaco()
    except RuntimeError as exc:
        _unavailable(str(exc))
    site = FakeTradingView(monaco_dir=monaco).start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium binary: $TVDESK_BROWSER, else `chromium` / `chromium-browser` on PATH."""
    path = (os.environ.get("TVDESK_BROWSER") or shutil.which("chromium")
            or shutil.which("chromium-browser"))
    if not path:
        _unavailable("no Chromium found: set TVDESK_BROWSER or install chromium")
    return str(path)
