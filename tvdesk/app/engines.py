"""The one place an engine is built, from the user's settings file and the run's choices.

Every shell (the CLI's commands, the GUI's runs and re-runs, the optimiser service) asks here,
so an engine always carries the configuration the program was started with: the `--config`
file's `[tradingview]` table (browser, pacing, timeouts) and `processes`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Literal, overload

from tvdesk.config import Settings, check_cluster_address
from tvdesk.errors import InputError

if TYPE_CHECKING:
    from tvdesk.engines.base import Engine
    from tvdesk.engines.cluster import ClusterEngine
    from tvdesk.engines.local import LocalEngine
    from tvdesk.engines.tradingview import TradingViewEngine

EngineKind = Literal["local", "tradingview"]


@overload
def make_engine(kind: Literal["local"], config: Settings | None = None, *,
                workers: int | None = None, show_browser: bool | None = None,
                notify: Callable[[str], None] | None = None) -> LocalEngine | ClusterEngine: ...
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
    (no settings file). With a cluster address in `config` (`[cluster]`, or `--cluster`), the
    local engine's backtests run on that Dask cluster's workers instead. `notify` (a line for
    the user: "waiting for the 2FA code", "no cluster worker connected") applies to TradingView
    and the cluster; `show_browser` to TradingView only.
    """
    config = config or Settings()
    if kind == "local" and config.cluster.address:
        from tvdesk.engines.cluster import ClusterEngine

        return ClusterEngine(config.cluster, notify=notify)
    if kind == "local":
        from tvdesk.engines.local import LocalEngine

        return LocalEngine(processes=workers or config.processes)
    if kind == "tradingview":
        from tvdesk.engines.tradingview import TradingViewEngine

        return TradingViewEngine(config.tradingview, pages=workers, show_browser=show_browser,
                                 notify=notify)
    raise InputError(f"unknown engine {kind!r}; expected local or tradingview",
                     source="--engine")


def with_cluster(config: Settings | None, address: str | None) -> Settings:
    """The settings with `--cluster ADDRESS` over the config's `[cluster]` table; "local" (or
    "none") runs on this machine whatever the config says; None leaves the config's choice."""
    config = config or Settings()
    if address is None:
        return config
    wanted = "" if address.strip().lower() in ("", "local", "none") \
        else check_cluster_address(address)
    return replace(config, cluster=replace(config.cluster, address=wanted))
