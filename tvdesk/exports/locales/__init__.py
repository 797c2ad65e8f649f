"""TradingView's UI words in every language it speaks, kept as data: one TOML file per language.

The export readers recognise a workbook by its structure (`tvdesk.exports.trade_layout`,
`tvdesk.exports.metric_sheets`); these words confirm what the structure says and name the
metrics. Adding a language or a renamed label is one more string in one file, no code.

Each file has `language`, `code` and these tables, every value a list of spellings:

- `sheets`: performance, trades_analysis, risk_adjusted, trades, properties
- `trade_columns`: List-of-trades headers without their currency code (`TRADE_FIELDS`)
- `trade_types`: entry_long, exit_long, entry_short, exit_short, and long / short for layouts
  that write only the side
- `open_signals.values`: the Signal of a still-open trade's exit row
- `metric_columns`: all, long, short (the scope words of "All USD", "Long %")
- `metrics`: metric key (`tvdesk.metric_catalog`) -> row labels
- `metric_percent_labels`: metric key -> labels of rows that state its percent variant
- `properties`: Properties-sheet keys (`PROPERTY_KEYS`) -> names
- `property_sections.values`: header and section rows of the Properties sheet
- `bools`: true / false
- `months`: jan ... dec, names and abbreviations used in dates
- `duration_units`: seconds ... years, words in durations such as "31 days"

A line ending in `# guess` marks a translation no real export or TradingView page confirmed
(see docs/exports.md); structure decides where such a label would be the only evidence.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tvdesk.metric_catalog import BY_KEY

FOLDER = Path(__file__).parent

TRADE_FIELDS: tuple[str, ...] = (
    "trade_number", "type", "signal", "datetime", "price", "qty", "position_value", "profit",
    "profit_percent", "cum_profit", "run_up", "drawdown", "duration_bars", "commission",
)
PROPERTY_KEYS: tuple[str, ...] = (
    "trading_range", "backtesting_range", "symbol", "timeframe", "point_value", "currency",
    "tick_size", "initial_capital", "base_currency", "order_size", "pyramiding", "commission",
    "slippage", "margin_long", "margin_short", "verify_price_for_limit_orders",
    "recalculate_after_order_filled", "recalculate_on_every_tick", "fill_orders_on_bar_close",
    "fill_orders_standard_ohlc", "bar_magnifier", "precision", "risk_free_rate",
)
MONTHS: tuple[str, ...] = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                           "oct", "nov", "dec")
DURATION_UNITS: tuple[str, ...] = ("seconds", "minutes", "hours", "days", "weeks", "months",
                                   "years")

_SCHEMA: dict[str, tuple[str, ...] | None] = {
    "sheets": ("performance", "trades_analysis", "risk_adjusted", "trades", "properties"),
    "trade_columns": TRADE_FIELDS,
    "trade_types": ("entry_long", "exit_long", "entry_short", "exit_short", "long", "short"),
    "open_signals": ("values",),
    "metric_columns": ("all", "long", "short"),
    "metrics": None,  # any metric key of the catalog
    "metric_percent_labels": None,
    "properties": PROPERTY_KEYS,
    "property_sections": ("values",),
    "bools": ("true", "false"),
    "months": MONTHS,
    "duration_units": DURATION_UNITS,
}

Table = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Locale:
    code: str
    language: str
    tables: Mapping[str, Table]

    def words(self, table: str, key: str) -> tuple[str, ...]:
        return self.tables.get(table, {}).get(key, ())


@cache
def locales() -> tuple[Locale, ...]:
    """Every language file, English first (its spellings are listed first in messages)."""
    found = [_load(path.name, path.read_bytes()) for path in FOLDER.glob("*.toml")]
    return tuple(sorted(found, key=lambda loc: (loc.code != "en", loc.code)))


def merged(table: str) -> dict[str, tuple[str, ...]]:
    """One table over every language: key -> spellings, English first, no repeats."""
    out: dict[str, list[str]] = {}
    for locale in locales():
        for key, words in locale.tables.get(table, {}).items():
            bucket = out.setdefault(key, [])
            bucket.extend(w for w in words if w not in bucket)
    return {key: tuple(words) for key, words in out.items()}


def _load(name: str, data: bytes) -> Locale:
    """Parse and check one file; a mistake in the data is a loud error naming file and key."""
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"locale file {name}: {exc}") from None
    code, language = doc.pop("code", None), doc.pop("language", None)
    if not isinstance(code, str) or not isinstance(language, str):
        raise ValueError(f"locale file {name}: needs `code` and `language` strings")
    tables: dict[str, Table] = {}
    for table, content in doc.items():
        if table not in _SCHEMA or not isinstance(content, dict):
            raise ValueError(f"locale file {name}: unknown table [{table}]; expected one of "
                             f"{', '.join(_SCHEMA)}")
        allowed = _SCHEMA[table]
        rows: dict[str, tuple[str, ...]] = {}
        for key, words in content.items():
            known = key in BY_KEY if allowed is None else key in allowed
            if not known:
                raise ValueError(f"locale file {name}: unknown key {table}.{key}")
            if not isinstance(words, list) or not all(isinstance(w, str) and w.strip()
                                                     for w in words):
                raise ValueError(f"locale file {name}: {table}.{key} must be a list of "
                                 f"non-empty strings")
            rows[key] = tuple(w.strip() for w in words)
        tables[table] = rows
    return Locale(code=code, language=language, tables=tables)
