"""Backtest engines. Every engine takes a BacktestRequest and returns a BacktestResult."""

from tvdesk.engines.base import Engine

__all__ = ["Engine"]
