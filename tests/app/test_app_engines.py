"""The one engine factory: every shell's engine carries the settings it was started with."""

from __future__ import annotations

import pytest

from tvdesk.app.engines import make_engine
from tvdesk.config import Settings, TradingViewSettings
from tvdesk.engines.local import LocalEngine
from tvdesk.engines.tradingview import TradingViewEngine
from tvdesk.errors import InputError


def test_local_takes_the_workers_asked_for_else_the_configs_processes() -> None:
    config = Settings(processes=3)
    assert make_engine("local", config).pool.size == 3
    assert make_engine("local", config, workers=1).pool.size == 1
    assert make_engine("local").pool.size == 1  # no settings file: the defaults
    assert isinstance(make_engine("local"), LocalEngine)


def test_tradingview_carries_the_config_files_table() -> None:
    table = TradingViewSettings(step_timeout=7.0, pages=2)
    engine = make_engine("tradingview", Settings(tradingview=table), show_browser=True)
    assert isinstance(engine, TradingViewEngine)
    assert engine.settings is table and engine.page_count == 2 and engine.headless is False
    assert make_engine("tradingview", Settings(tradingview=table), workers=1).page_count == 1


def test_an_unknown_engine_names_the_flag() -> None:
    with pytest.raises(InputError, match="--engine: unknown engine 'mt5'"):
        make_engine("mt5")
