"""A fake TradingView website (sign-in and chart pages) for the browser-automation tests."""

from fake_tradingview.monaco import ensure_monaco
from fake_tradingview.server import BROKEN_FEATURES, FakeTradingView, totp

# Chromium's switches for the tests: no sandbox (containers), and no traffic but the page's.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync")

__all__ = ["BROKEN_FEATURES", "CHROMIUM_ARGS", "FakeTradingView", "ensure_monaco", "totp"]
