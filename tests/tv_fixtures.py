"""Fixtures of the TradingView tests (engine, CLI and GUI): the fake site and the browser.

Both need something from outside Python (Monaco through npm, a Chromium binary). Without it
the tests are skipped on a developer's machine and fail in CI (CI=true), where a skip would
hide a broken setup.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tvdesk.app.requests import RunOptions, build_request
from tvdesk.config import TradingViewSettings
from tvdesk.engines.tradingview import TradingViewEngine
from tvdesk.engines.tradingview.session import Credentials
from tvdesk.model import BacktestRequest

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


# --------------------------------------------------------------------------- engine tests

ROOT = Path(__file__).resolve().parents[1]
SMA = ROOT / "pine" / "examples" / "sma_cross.pine"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_tv: FakeTradingView) -> Path:
    """A fresh tvdesk home (browser profile, sheets, diagnostics) pointed at the fake site."""
    monkeypatch.setenv("TVDESK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TVDESK_TRADINGVIEW_URL", fake_tv.base_url)
    return tmp_path / "home"


def engine_for(fake_tv: FakeTradingView, chromium_path: str, **kwargs: object
               ) -> TradingViewEngine:
    settings = TradingViewSettings(browser=chromium_path, pause_seconds=(0.0, 0.0),
                                   step_timeout=10.0, report_timeout=30.0)
    credentials = Credentials(fake_tv.username, fake_tv.password, fake_tv.totp_secret)
    return TradingViewEngine(settings, credentials=lambda: credentials,
                             notify=lambda message: None, **kwargs)  # type: ignore[arg-type]


def sma_request(*inputs: str, date_from: str | None = None,
                date_to: str | None = None) -> BacktestRequest:
    return build_request(RunOptions(script=str(SMA), symbol="FX:EURUSD", timeframe="60",
                                    inputs=inputs, date_from=date_from, date_to=date_to),
                         engine="tradingview")
