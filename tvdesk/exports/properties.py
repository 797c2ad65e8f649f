"""The Properties sheet, and the stale-export check built on it.

Exporting the wrong report is TradingView automation's classic failure: the report had not
finished updating, so the file describes the previous inputs or date range. The Properties sheet
echoes what the report was computed with, so `export_matches` compares that echo with what was
asked for and lists every difference.

Properties become a dict: known names under canonical keys (`symbol`, `timeframe`, `tick_size`,
`initial_capital`, `order_size`, ... see `aliases.PROPERTIES`), every other row under
`inputs` as `{title: value}`. Values: On/Off become booleans, numbers become int/float, other
text stays text. Date ranges also give `<range>_from` / `<range>_to` as ISO dates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from tvdesk.exports import aliases
from tvdesk.exports.cells import EXCEL_EPOCH, to_text
from tvdesk.exports.dates import find_datetimes, slashed_day_first
from tvdesk.model import BacktestResult, FrozenMap

_RANGES = ("trading_range", "backtesting_range")


def read_properties(rows: Iterable[tuple[int, Sequence[Any]]]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    for _line, cells in rows:
        name = to_text(cells[0]) if cells else ""
        raw = cells[1] if len(cells) > 1 else None
        if not name or (raw in (None, "") and aliases.is_property_section(name)):
            continue
        if aliases.is_property_section(name) and aliases.is_property_section(to_text(raw)):
            continue  # a "Name | Value" header row
        key = aliases.property_name(name)
        if key is not None and key not in props:
            props[key] = _value(raw)
            if key == "timeframe":
                props[key] = to_text(raw)
            if key in _RANGES:
                start, end = date_range(to_text(raw))
                props[f"{key}_from"] = start
                props[f"{key}_to"] = end
        else:
            title, copy = name, 1
            while title in inputs:  # TradingView allows two inputs with one title
                copy += 1
                title = f"{name} ({copy})"
            inputs[title] = _value(raw)
    props["inputs"] = FrozenMap(inputs)
    return props


def _value(raw: Any) -> Any:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)):
        return int(raw) if float(raw).is_integer() else float(raw)
    if isinstance(raw, (datetime, date)):
        return raw.isoformat()
    text = str(raw).strip()
    flag = aliases.bool_value(text)
    if flag is not None:
        return flag
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


_SERIAL = re.compile(r"^\s*(\d{5}(?:\.\d+)?)\s*(?:[-–—]|to|a|até|bis|по|-)\s*(\d{5}(?:\.\d+)?)\s*$")


def date_range(text: str) -> tuple[str | None, str | None]:
    """First and last date written in a range such as "2024-01-02 — 2024-12-31", as ISO text.

    Accepts every form `tvdesk.exports.dates` reads in any known language ("Jan 02, 2024",
    "02 янв. 2024", "02.01.2024", "2024年1月2日") and Excel serials. Slashed dates count only
    when a day above 12 says which part is the day: 01/02/2024 is another day in French.
    """
    serial = _SERIAL.match(aliases.normalise(text))
    if serial:
        start, end = ((EXCEL_EPOCH + timedelta(days=float(serial.group(i)))).date().isoformat()
                      for i in (1, 2))
        return start, end
    found = find_datetimes(text, slashed_day_first([text]))
    if len(found) < 2:
        return None, None
    return found[0][1].date().isoformat(), found[-1][1].date().isoformat()


# --------------------------------------------------------------------------- stale-export check


def export_matches(result: BacktestResult, *, inputs: Mapping[str, Any] | None = None,
                   date_from: date | None = None, date_to: date | None = None,
                   symbol: str | None = None, timeframe: str | None = None) -> list[str]:
    """Every way the export's Properties differ from what was asked for ([] = it matches).

    Inputs are matched by title (exactly, then ignoring case and spacing); numbers compare as
    numbers (14 == 14.0 == "14"), booleans also accept On/Off. Dates compare with the
    Backtesting range (the Trading range when no Backtesting range is given). A symbol matches
    with or without its exchange prefix; timeframes match across spellings ("60" == "1h").
    An export without Properties (the CSV) cannot prove anything, so every check asked for is
    reported as a mismatch.
    """
    props = result.properties
    problems: list[str] = []
    exported = props.get("inputs")
    if inputs:
        if exported is None:
            problems.append("the export has no Properties sheet, so its inputs are unknown")
        else:
            for title, wanted in inputs.items():
                found, got = _find_input(exported, title)
                if not found:
                    problems.append(f"input {title!r} is not in the export's Properties")
                elif not same_value(wanted, got):
                    problems.append(f"input {title!r} is {got!r} in the export, "
                                    f"expected {wanted!r}")
    for edge, wanted_date in (("from", date_from), ("to", date_to)):
        if wanted_date is None:
            continue
        wanted_iso = _as_date(wanted_date).isoformat()
        raw, got_iso = _range_edge(props, edge)
        if got_iso != wanted_iso:
            shown = f"{raw!r}" if raw else "missing"
            problems.append(f"date range {edge} {wanted_iso} expected, the export's range is "
                            f"{shown}")
    if symbol is not None and not _same_symbol(symbol, props.get("symbol")):
        problems.append(f"symbol {props.get('symbol')!r} in the export, expected {symbol!r}")
    if timeframe is not None and timeframe_key(timeframe) != timeframe_key(
            props.get("timeframe")):
        problems.append(f"timeframe {props.get('timeframe')!r} in the export, "
                        f"expected {timeframe!r}")
    return problems


def _find_input(exported: Mapping[str, Any], title: str) -> tuple[bool, Any]:
    if title in exported:
        return True, exported[title]
    wanted = aliases.normalise(title)
    for name, value in exported.items():
        if aliases.normalise(name) == wanted:
            return True, value
    return False, None


def same_value(wanted: Any, got: Any) -> bool:
    """Compare an input value asked for with the one the export echoes."""
    if isinstance(wanted, bool) or isinstance(got, bool):
        flags = [v if isinstance(v, bool) else aliases.bool_value(to_text(v))
                 for v in (wanted, got)]
        return flags[0] is not None and flags[0] == flags[1]
    numbers = [_number(v) for v in (wanted, got)]
    if numbers[0] is not None and numbers[1] is not None:
        return math.isclose(numbers[0], numbers[1], rel_tol=1e-9, abs_tol=1e-12)
    return aliases.normalise(to_text(wanted)) == aliases.normalise(to_text(got))


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _range_edge(props: Mapping[str, Any], edge: str) -> tuple[str | None, str | None]:
    for key in _RANGES[::-1]:
        if props.get(key):
            return props[key], props.get(f"{key}_{edge}")
    return None, None


def _same_symbol(wanted: str, got: Any) -> bool:
    if got is None:
        return False
    a, b = wanted.strip().upper(), str(got).strip().upper()
    return a == b or a.rpartition(":")[2] == b or b.rpartition(":")[2] == a


_TF = re.compile(r"^(\d*)\s*([a-z]*)$", re.IGNORECASE)
_TF_UNITS = {"": ("s", 60), "s": ("s", 1), "sec": ("s", 1), "second": ("s", 1),
             "m": ("s", 60), "min": ("s", 60), "minute": ("s", 60), "minuto": ("s", 60),
             "h": ("s", 3600), "hour": ("s", 3600), "hora": ("s", 3600),
             "d": ("d", 1), "day": ("d", 1), "dia": ("d", 1), "w": ("w", 1), "week": ("w", 1),
             "semana": ("w", 1), "mo": ("mo", 1), "month": ("mo", 1), "mes": ("mo", 1)}


def timeframe_key(value: Any) -> tuple[str, int] | str:
    """One spelling per timeframe: "60", "1h", "1H", "60 minutes" -> ("s", 3600).

    TradingView's own codes are case-sensitive where it matters: "1M" is a month, "1m" a minute.
    """
    text = to_text(value).strip()
    match = _TF.match(text)
    if not match:
        return text.casefold()
    count = int(match.group(1) or 1)
    unit = match.group(2)
    if unit == "M":
        unit = "mo"
    unit = aliases.normalise(unit)
    unit = unit[:-1] if len(unit) > 2 and unit.endswith("s") and unit[:-1] in _TF_UNITS else unit
    unit = "mes" if unit == "meses" else unit
    if unit not in _TF_UNITS:
        return text.casefold()
    base, size = _TF_UNITS[unit]
    return base, count * size
