"""Imported once by the forkserver so every forked worker starts with PyneCore loaded."""

from pynecore.core import script_runner  # noqa: F401  (preloading is the point)

from tvdesk.engines.local import backtest  # noqa: F401
