"""Market data: reading and validating OHLCV bars from CSV files."""

from tvdesk.data.market_data import Bars, derive_mintick, detect_timeframe, load_bars

__all__ = ["Bars", "derive_mintick", "detect_timeframe", "load_bars"]
