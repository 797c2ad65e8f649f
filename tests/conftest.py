"""Test-wide setup: keep tvdesk's folders inside the test run, find the test helpers."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("TVDESK_HOME", tempfile.mkdtemp(prefix="tvdesk-tests-"))
os.environ.setdefault("PYNE_SAVE_SCRIPT_TOML", "0")


# The fake TradingView site and the browser, for tests/engines/tradingview and the GUI's TradingView
# tests alike.
pytest_plugins = ("tv_fixtures",)
