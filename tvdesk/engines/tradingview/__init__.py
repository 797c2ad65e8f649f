"""The TradingView engine: a real Chromium driving TradingView's own Strategy report."""

from tvdesk.engines.tradingview.engine import TradingViewEngine

__all__ = ["TradingViewEngine"]
