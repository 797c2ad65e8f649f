"""tvdesk: a desktop workbench for TradingView Pine Script strategies."""

__version__ = "0.1.0"

POWERED_BY = "Powered by PyneSys (https://pynesys.io)"
