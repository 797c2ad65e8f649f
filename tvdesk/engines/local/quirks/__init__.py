"""Where PyneCore's broker or library differs from TradingView, the smallest fix that closes it.

Each module here fixes one divergence measured against TradingView's own trade lists, as a
runtime hook on PyneCore (applied once per process, before any script runs), and has a test
with a hand-made market whose expected trades were derived by hand. Keeping them apart keeps
each one easy to drop when a PyneCore release fixes it upstream: re-run `benchmarks/parity.py`
on every PyneCore upgrade.
"""

from __future__ import annotations

import importlib

# One module per divergence; each exposes `apply()` (idempotent).
QUIRKS = ("stop_tie", "regex_match")

_applied: list[str] = []


def apply_all() -> tuple[str, ...]:
    """Apply every quirk fix once in this process; returns the names applied."""
    if not _applied:
        for name in QUIRKS:
            try:
                module = importlib.import_module(f"{__name__}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{__name__}.{name}":
                    raise
                continue
            module.apply()
            _applied.append(name)
    return tuple(_applied)
