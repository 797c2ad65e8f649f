"""Checks of a run's form that need the script or the data, each error naming its field.

`settings_from_form` calls these before a run starts, so nonsense (a condition the script's
input does not allow, a search range whose min is above its max, a strategy() setting of the
wrong kind, a date outside the data) is refused with a message at the field instead of every
trial failing later. Each `InputError` names the flag its field stands for (`source`) and,
where the field has entries, which entry (`key`: an input's title, a setting's name).

Also here: the data file's first and last date, read from its first and last lines only, for
the GUI's date pickers and the date check.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tvdesk.errors import DataError, InputError, TvdeskError
from tvdesk.model import InputSpec, Strategy
from tvdesk.pine.declarations import coerce_input

# strategy() arguments the form can override, with TradingView's defaults for a script that
# does not declare them (Pine's documented defaults).
PINE_DEFAULTS: dict[str, Any] = {
    "initial_capital": 1_000_000.0, "default_qty_type": "strategy.fixed",
    "default_qty_value": 1.0, "commission_type": "strategy.commission.percent",
    "commission_value": 0.0, "slippage": 0,
}
QTY_TYPES: dict[str, str] = {
    "strategy.percent_of_equity": "% of equity", "strategy.fixed": "Contracts",
    "strategy.cash": "Cash",
}
COMMISSION_TYPES: dict[str, str] = {
    "strategy.commission.percent": "%",
    "strategy.commission.cash_per_contract": "Cash per contract",
    "strategy.commission.cash_per_order": "Cash per order",
}
_LABELS = {"initial_capital": "initial capital", "default_qty_value": "order size",
           "default_qty_type": "order size type", "commission_value": "commission",
           "commission_type": "commission type", "slippage": "slippage"}


def _type_name(value: object, choices: Iterable[str]) -> str | None:
    """"percent_of_equity", "strategy.percent_of_equity" -> the choice it names, or None."""
    text = str(value).strip()
    for choice in choices:
        if text == choice or text == choice.rsplit(".", 1)[1]:
            return choice
    return None


def script_settings(strategy: Strategy | None) -> dict[str, Any]:
    """The form's strategy() settings as the script declares them (Pine's defaults for the
    ones it does not, or declares with an expression the form cannot show)."""
    declared = dict(strategy.settings) if strategy is not None else {}
    out = dict(PINE_DEFAULTS)
    for key in ("initial_capital", "default_qty_value", "commission_value"):
        value = declared.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    slippage = declared.get("slippage")
    if isinstance(slippage, int) and not isinstance(slippage, bool):
        out["slippage"] = slippage
    for key, choices in (("default_qty_type", QTY_TYPES), ("commission_type", COMMISSION_TYPES)):
        name = _type_name(declared.get(key, ""), choices)
        if name is not None:
            out[key] = name
    return out


def check_strategy_settings(settings: Iterable[tuple[str, object]]) -> None:
    """Overrides of strategy() arguments: known names, positive sizes, non-negative costs."""
    for key, value in settings:
        label = _LABELS.get(key)
        if label is None:
            continue  # other strategy() arguments are the engine's to judge
        if key in ("default_qty_type", "commission_type"):
            choices = QTY_TYPES if key == "default_qty_type" else COMMISSION_TYPES
            if _type_name(value, choices) is None:
                raise InputError(f"{label}: expected one of {', '.join(choices)}, got {value!r}",
                                 source="settings", key=key)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise InputError(f"{label}: expected a number, got {value!r}", source="settings",
                             key=key)
        if key in ("initial_capital", "default_qty_value") and value <= 0:
            raise InputError(f"{label}: expected a number above 0, got {value:g}",
                             source="settings", key=key)
        if key in ("commission_value", "slippage") and value < 0:
            raise InputError(f"{label}: expected 0 or more, got {value:g}", source="settings",
                             key=key)
        if key == "slippage" and not float(value).is_integer():
            raise InputError(f"slippage: expected a whole number of ticks, got {value:g}",
                             source="settings", key=key)


def _allowed(spec: InputSpec) -> str:
    if spec.options:
        return "one of " + ", ".join(str(o) for o in spec.options)
    low = f"{spec.minval:g}" if spec.minval is not None else "−∞"
    high = f"{spec.maxval:g}" if spec.maxval is not None else "∞"
    return f"{low} … {high}"


def check_conditions(conditions: Iterable[str], spec: InputSpec,
                     source: str = "--conditions") -> None:
    """Each condition is a value the condition input accepts (its minval/maxval/options)."""
    for condition in conditions:
        try:
            coerce_input(spec, condition)
        except ValueError as exc:
            raise InputError(f"condition {condition} is not a value of the input "
                             f"{spec.title!r}, which allows {_allowed(spec)} ({exc})",
                             source=source, key=spec.title) from None


def check_search_ranges(strategy: Strategy, ranges: Mapping[str, Mapping[str, Any]]) -> None:
    """Each user range: numbers, min ≤ max, step > 0, and inside the input's declared
    minval/maxval (the engine refuses values outside them, so every trial would fail)."""
    for title, values in ranges.items():
        spec = strategy.input_by_key(title)
        if spec is None:
            continue  # build_space reports unknown titles with the list of inputs
        name = spec.title
        numbers: dict[str, float] = {}
        for part in ("min", "max", "step"):
            raw = values.get(part)
            if raw is None:
                continue
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) \
                    or not math.isfinite(raw):
                raise InputError(f"input {name!r}: {part} must be a finite number, got {raw!r}",
                                 source="search ranges", key=name)
            numbers[part] = float(raw)
        low, high, step = numbers.get("min"), numbers.get("max"), numbers.get("step")
        if low is not None and high is not None and low > high:
            raise InputError(f"input {name!r}: min {low:g} is above max {high:g}",
                             source="search ranges", key=name)
        if step is not None and step <= 0:
            raise InputError(f"input {name!r}: step must be above 0, got {step:g}",
                             source="search ranges", key=name)
        for part, value in (("min", low), ("max", high)):
            if value is None:
                continue
            if spec.minval is not None and value < spec.minval:
                raise InputError(f"input {name!r}: {part} {value:g} is below the minimum "
                                 f"{spec.minval:g} the script declares "
                                 f"(allowed {_allowed(spec)})", source="search ranges",
                                 key=name)
            if spec.maxval is not None and value > spec.maxval:
                raise InputError(f"input {name!r}: {part} {value:g} is above the maximum "
                                 f"{spec.maxval:g} the script declares "
                                 f"(allowed {_allowed(spec)})", source="search ranges",
                                 key=name)


def check_file(path: str | None, flag: str, what: str) -> None:
    """A file the run reads must exist (and be a file), named in the message."""
    if path and not Path(path).is_file():
        problem = "is a folder, not a file" if Path(path).is_dir() else "file not found"
        raise InputError(f"{path}: {problem}; expected {what}", source=flag)


@dataclass(frozen=True, slots=True)
class DataSpan:
    """The first and last bar's dates of a data file (in the chart's timezone)."""

    first: date
    last: date

    def describe(self) -> str:
        return f"data: {self.first.isoformat()} … {self.last.isoformat()}"


_TAIL_BYTES = 4096


def _first_and_last_lines(path: str | Path) -> tuple[str, str, str] | None:
    """(header, first data line, last data line), reading only the file's two ends."""
    with open(path, "rb") as handle:
        head = handle.read(_TAIL_BYTES)
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - _TAIL_BYTES))
        tail = handle.read()
    head_lines = [ln for ln in head.decode("utf-8-sig", "replace").splitlines() if ln.strip()]
    tail_lines = [ln for ln in tail.decode("utf-8", "replace").splitlines() if ln.strip()]
    if len(head_lines) < 2 or not tail_lines:
        return None
    return head_lines[0], head_lines[1], tail_lines[-1]


def data_span(path: str | Path | None, timezone: str = "UTC") -> DataSpan | None:
    """The data file's first and last dates, from its header, first and last lines only (a
    huge file is not loaded); None when it cannot tell (no file, an unreadable layout)."""
    if not path or not Path(path).is_file():
        return None
    try:
        import pandas as pd

        from tvdesk.data.market_data import _map_columns, _parse_times, _read_header

        lines = _first_and_last_lines(path)
        if lines is None:
            return None
        header, sep = _read_header(path, str(path))
        cols = _map_columns(header, str(path))
        rows = [next(csv.reader([line], delimiter=sep)) for line in lines[1:]]
        frame = pd.DataFrame([[row[i].strip() if i < len(row) else "" for i in range(len(header))]
                              for row in rows])

        def raw(key: str) -> pd.Series:
            return frame[cols[key]]

        def fail(row: int, key: str, message: str) -> DataError:
            return DataError(message, source=str(path))

        times = _parse_times(raw, "date+time" if "date" in cols else "time", timezone, fail)
        zone = ZoneInfo(timezone)
        first, last = (datetime.fromtimestamp(int(ms) / 1000, zone).date() for ms in times)
    except (TvdeskError, OSError, ValueError, KeyError, IndexError, StopIteration):
        return None
    return DataSpan(first, last) if first <= last else None


def check_dates_in_data(date_from: datetime | None, date_to: datetime | None,
                        span: DataSpan | None, path: str | None = None,
                        timezone: str = "UTC") -> None:
    """A window that misses the data entirely (the engine would have no bar to trade), said
    as the engine says it when it loads the bars."""
    if span is None:
        return
    from tvdesk.data.market_data import chart_time

    where = f" of {path}" if path else ""
    if date_from is not None and date_from.date() > span.last:
        raise InputError(f"{chart_time(int(date_from.timestamp() * 1000), timezone)} is after "
                         f"the last bar{where} ({span.describe()}); expected a --from on or "
                         "before it", source="--from")
    if date_to is not None and date_to.date() < span.first:
        raise InputError(f"{chart_time(int(date_to.timestamp() * 1000), timezone)} is before "
                         f"the first bar{where} ({span.describe()}); expected a --to on or "
                         "after it", source="--to")
