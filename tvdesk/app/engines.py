"""The one place an engine is built, from the user's settings file and the run's choices.

Every shell (the CLI's commands, the GUI's runs and re-runs, the optimiser service) asks here,
so an engine always carries the configuration the program was started with: the `--config`
file's `[tradingview]` table (browser, pacing, timeouts) and `processes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, overload

from tvdesk.config import Settings
from tvdesk.errors import InputError

if TYPE_CHECKING:
    from tvdesk.engines.base import Engine
    from tvdesk.engines.local import LocalEngine
    from tvdesk.engines.tradingview import TradingViewEngine

EngineKind = Literal["local", "tradingview"]


@overload
def make_engine(kind: Literal["local"], config: Settings | None = None, *,
                workers: int | None = None, show_browser: bool | None = None,
                notify: Callable[[str], None] | None = None) -> LocalEngine: ...
@overload
def make_engine(kind: Literal["tradingview"], config: Settings | None = None, *,
                workers: int | None = None, show_browser: bool | None = None,
                notify: Callable[[str], None] | None = None) -> TradingViewEngine: ...
@overload
def make_engine(kind: str, config: Settings | None = None, *, workers: int | None = None,
                show_browser: bool | None = None,
                notify: Callable[[str], None] | None = None) -> Engine: ...
def make_engine(kind: str, config: Settings | None = None, *, workers: int | None = None,
                show_browser: bool | None = None,
                notify: Callable[[str], None] | None = None) -> Engine:
    """An engine of `kind`, not started yet (it starts on first use; close it when done).

    `workers`: local worker processes, or TradingView pages in one browser; None takes the
    config's `processes` (local) or `[tradingview] pages`. `config` None means the defaults
    (no settings file). `show_browser` and `notify` (a line for the user, e.g. "waiting for
    the 2FA code") apply to TradingView only.
    """
    config = config or Settings()
    if kind == "local":
        from tvdesk.engines.local import LocalEngine

        return LocalEngine(processes=workers or config.processes)
    if kind == "tradingview":
        from tvdesk.engines.tradingview import TradingViewEngine

        return TradingViewEngine(config.tradingview, pages=workers, show_browser=show_browser,
                                 notify=notify)
    raise InputError(f"unknown engine {kind!r}; expected local or tradingview",
                     source="--engine")
