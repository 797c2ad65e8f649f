"""Imported once by the forkserver so every forked worker starts with PyneCore loaded."""

from pynecore.core import script_runner  # noqa: F401  (preloading is the point)

from tvdesk.engines.local import backtest  # noqa: F401
from tvdesk.engines.local.quirks import apply_all

apply_all()  # every worker forks with PyneCore's divergences from TradingView already fixed
