"""Every name TradingView has used in its exports, in every UI language, as lookups.

TradingView renames sheets, columns and labels every few months and translates all of them into
the UI language. The readers never compare names in code: they ask this module, which maps every
known spelling to one canonical name. The spellings themselves are data, one TOML file per
language in `tvdesk.exports.locales`: a renamed column or a new language is one more string
there, and nothing else changes. Names confirm what the structure of a sheet says; where no
name is known the readers go by position and content (`tvdesk.exports.trade_layout`).

Lookups normalise both sides (`normalise`): case, accents, spacing, "&" versus "and" and the
spellings of P&L ("P&L", "PnL", "P and L", Portuguese "L&P") do not matter. Column headers may
end in a currency code ("Price USD", "Net P&L USDT"); `split_currency` strips a trailing run of
3–5 capitals when the full header is not known by itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Literal, TypeVar

from tvdesk.exports import locales
from tvdesk.metric_catalog import METRICS, Scope

Role = Literal["entry", "exit"]
SheetKind = Literal["performance", "trades_analysis", "risk_adjusted", "trades", "properties"]

# --------------------------------------------------------------------------- sheets

SHEET_ORDER: tuple[SheetKind, ...] = (
    "performance", "trades_analysis", "risk_adjusted", "trades", "properties",
)
"""Position of each sheet in the workbook: the fallback when no name is known."""

SHEET_NAME_LIMIT = 31
"""Excel's (and SheetJS's) longest sheet name: a longer translation is cut to this length."""

SHEETS: dict[SheetKind, tuple[str, ...]] = {
    kind: tuple(dict.fromkeys(w[:SHEET_NAME_LIMIT].rstrip() for w in words))  # type: ignore[misc]
    for kind, words in locales.merged("sheets").items()
}

# --------------------------------------------------------------------------- List of trades

TRADE_FIELDS: tuple[str, ...] = (
    "trade_number", "type", "signal", "datetime", "price", "qty", "position_value", "profit",
    "profit_percent", "cum_profit", "cum_profit_percent", "run_up", "run_up_percent",
    "drawdown", "drawdown_percent", "duration_bars", "commission",
)
REQUIRED_TRADE_FIELDS: tuple[str, ...] = ("trade_number", "type", "datetime", "price")

# A field `x_percent` also accepts every alias of `x` followed by " %" (see _percent_aliases).
TRADE_COLUMNS: dict[str, tuple[str, ...]] = {
    field: locales.merged("trade_columns").get(field, ()) for field in TRADE_FIELDS
}

# Type cell -> (role, side). A role of None means the cell names only the side; the reader then
# tells entry from exit by time (see tvdesk.exports.trades).
_TYPE_KEYS: dict[str, tuple[Role | None, str]] = {
    "entry_long": ("entry", "long"), "exit_long": ("exit", "long"),
    "entry_short": ("entry", "short"), "exit_short": ("exit", "short"),
    "long": (None, "long"), "short": (None, "short"),
}
TRADE_TYPES: dict[tuple[Role | None, str], tuple[str, ...]] = {
    _TYPE_KEYS[key]: words for key, words in locales.merged("trade_types").items()
}

OPEN_SIGNALS: tuple[str, ...] = locales.merged("open_signals").get("values", ())
"""Signal of the exit row of a trade still open at the last bar."""

# --------------------------------------------------------------------------- metric sheets

METRIC_COLUMNS: dict[Scope, tuple[str, ...]] = {
    scope: words for scope, words in locales.merged("metric_columns").items()  # type: ignore[misc]
}
"""Scope words of the metric-sheet header; a trailing " %" marks the percent column."""

# Labels per metric key; each key's label in tvdesk.metric_catalog is always accepted too.
METRIC_LABELS: dict[str, tuple[str, ...]] = locales.merged("metrics")

# Labels that name the percent variant of a key on their own row ("Largest winning trade
# percent"): the value goes to `<key>_percent` whichever column holds it.
METRIC_PERCENT_LABELS: dict[str, tuple[str, ...]] = locales.merged("metric_percent_labels")

UNDEFINED_VALUES: tuple[str, ...] = ("N/A", "NA", "n/d", "н/д", "—", "–", "-", "∞", "inf",
                                   "NaN", "#N/A", "#DIV/0!")
"""Cell texts that mean "undefined" (a profit factor with no losses): the metric becomes None."""

# --------------------------------------------------------------------------- Properties

PROPERTIES: dict[str, tuple[str, ...]] = locales.merged("properties")

PROPERTY_SECTIONS: tuple[str, ...] = locales.merged("property_sections").get("values", ())
"""Header or section rows of the Properties sheet: skipped, never taken for an input."""

BOOL_VALUES: dict[bool, tuple[str, ...]] = {
    flag == "true": words for flag, words in locales.merged("bools").items()
}

MONTH_NAMES: dict[int, tuple[str, ...]] = {
    locales.MONTHS.index(key) + 1: words for key, words in locales.merged("months").items()
}
DURATION_UNIT_NAMES: dict[str, tuple[str, ...]] = locales.merged("duration_units")

# --------------------------------------------------------------------------- normalisation

_PNL = re.compile(r"\bp\s*(?:&|and)\s*l\b|\bl\s*&\s*p\b|\bpnl\b")
_SPACES = re.compile(r"\s+")
_CURRENCY = re.compile(r"^(.*\S)\s+([A-Z]{3,5})$")


def normalise(label: object) -> str:
    """The lookup form of a label: casefolded, no accents, single spaces, one spelling of P&L."""
    text = unicodedata.normalize("NFKD", str(label))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _PNL.sub(" pnl ", text).replace("&", " and ")
    return _SPACES.sub(" ", text).strip().rstrip(":").strip()


def split_currency(header: str) -> tuple[str, str | None]:
    """"Price USDT" -> ("Price", "USDT"); a header without a currency code comes back whole."""
    match = _CURRENCY.match(header.strip())
    if match is None:
        return header.strip(), None
    return match.group(1), match.group(2)


_K = TypeVar("_K")


AMBIGUOUS: dict[str, set[str]] = {}
"""Table name -> spellings two keys claim (across languages): left out, so structure decides.
Kept empty by a test; a non-empty entry means a locale file needs fixing."""


def _index(table: Mapping[_K, Iterable[str]], name: str) -> dict[str, _K]:
    """Normalised alias -> canonical key; a spelling two keys claim is left out (AMBIGUOUS)."""
    index: dict[str, _K] = {}
    clashes: set[str] = set()
    for key, aliases in table.items():
        for alias in aliases:
            norm = normalise(alias)
            if index.get(norm, key) != key:
                clashes.add(norm)
            index[norm] = key
    for norm in clashes:
        del index[norm]
    if clashes:
        AMBIGUOUS[name] = clashes
    return index


def _percent_aliases() -> dict[str, tuple[str, ...]]:
    table = {field: list(aliases) for field, aliases in TRADE_COLUMNS.items()}
    for field in TRADE_COLUMNS:
        if f"{field}_percent" in table:
            table[f"{field}_percent"] += [f"{alias} %" for alias in TRADE_COLUMNS[field]]
    return {field: tuple(aliases) for field, aliases in table.items()}


_SHEETS = _index(SHEETS, "SHEETS")
_TRADE_COLUMNS = _index(_percent_aliases(), "TRADE_COLUMNS")
_TRADE_TYPES = _index(TRADE_TYPES, "TRADE_TYPES")
_OPEN = frozenset(normalise(s) for s in OPEN_SIGNALS)
_METRIC_COLUMNS = _index(METRIC_COLUMNS, "METRIC_COLUMNS")
_METRIC_LABELS = _index(
    {m.key: (m.label, *METRIC_LABELS.get(m.key, ())) for m in METRICS}
    | {f"{k}%": v for k, v in METRIC_PERCENT_LABELS.items()},
    "METRIC_LABELS",
)
_UNDEFINED = frozenset(normalise(s) for s in UNDEFINED_VALUES)
_PROPERTIES = _index(PROPERTIES, "PROPERTIES")
_SECTIONS = frozenset(normalise(s) for s in PROPERTY_SECTIONS)
_BOOLS = _index(BOOL_VALUES, "BOOL_VALUES")


# --------------------------------------------------------------------------- lookups


def sheet_kind(name: str) -> SheetKind | None:
    return _SHEETS.get(normalise(name))


def trade_column(header: str) -> tuple[str, str | None] | None:
    """Canonical List-of-trades field and the currency the header names, or None if unknown."""
    field = _TRADE_COLUMNS.get(normalise(header))
    if field is not None:
        return str(field), None
    base, currency = split_currency(header)
    field = _TRADE_COLUMNS.get(normalise(base)) if currency else None
    return None if field is None else (str(field), currency)


def trade_type(value: str) -> tuple[Role | None, str] | None:
    return _TRADE_TYPES.get(normalise(value))


def is_open_signal(value: object) -> bool:
    return value is not None and normalise(value) in _OPEN


def metric_column(header: str) -> tuple[Scope, bool, str | None] | None:
    """"Long USD" -> ("long", False, "USD"); "All %" -> ("all", True, None); else None."""
    base, currency = split_currency(header)
    percent = base.endswith("%")
    if percent:
        base = base[:-1]
    scope = _METRIC_COLUMNS.get(normalise(base))
    return None if scope is None else (scope, percent, currency)


def metric_label(label: str) -> tuple[str, bool] | None:
    """Metric key for a row label and whether the label itself names the percent variant."""
    key = _METRIC_LABELS.get(normalise(label))
    if key is None:
        return None
    key = str(key)
    return (key[:-1], True) if key.endswith("%") else (key, False)


def is_undefined(value: str) -> bool:
    return normalise(value) in _UNDEFINED


def property_name(name: str) -> str | None:
    found = _PROPERTIES.get(normalise(name))
    return None if found is None else str(found)


def is_property_section(name: str) -> bool:
    return normalise(name) in _SECTIONS


def bool_value(text: str) -> bool | None:
    found = _BOOLS.get(normalise(text))
    return None if found is None else bool(found)


def slug(label: str) -> str:
    """snake_case key for a label no table knows, so its number is kept rather than dropped."""
    text = normalise(label).replace("%", " percent ").replace("#", " number ")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_") or "unnamed"
