"""Value types every part of tvdesk shares.

Engines, the export readers, analytics, the store and the GUI all speak these types, so a
result never depends on where it came from. They are immutable (frozen dataclasses, tuples,
read-only mappings) because results cross process boundaries and are cached: a value that
cannot change cannot be changed behind a cache's back. Each type round-trips through JSON
(`to_dict` / `from_dict`), which is also the machine interface of `--json`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Literal, TypeVar

Side = Literal["long", "short"]
ResultSource = Literal["local", "tradingview", "export"]
InputKind = Literal[
    "int", "float", "bool", "string", "source", "timeframe", "session", "symbol", "color",
    "time", "price", "text_area", "enum", "other",
]
InputValue = int | float | bool | str


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _json_number(value: float | int | None) -> float | int | None:
    """NaN and infinities are not JSON: they become null (unknown / undefined)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_K = TypeVar("_K")
_V = TypeVar("_V")


class FrozenMap(Mapping[_K, _V]):
    """A read-only, hashable-by-identity mapping used inside frozen dataclasses.

    Keyed by str almost everywhere; the reports also key one by trial id."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[_K, _V] | Iterable[tuple[_K, _V]] = ()) -> None:
        self._data = MappingProxyType(dict(data))

    def __getitem__(self, key: _K) -> _V:
        return self._data[key]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self._data)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._data) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self._data),))


# --------------------------------------------------------------------------- strategy


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One `input.*()` a Pine script declares, as a user sees it in TradingView's dialog.

    `name` is the variable the engine overrides; `title` is what users type. Search ranges come
    from `minval`/`maxval`/`step`/`options` and can be overridden by the optimizer's settings.
    `overridable` is False for inputs the engine cannot set (declared inside an expression).
    """

    name: str
    title: str
    kind: InputKind
    default: InputValue | None
    minval: float | None = None
    maxval: float | None = None
    step: float | None = None
    options: tuple[InputValue, ...] = ()
    group: str | None = None
    tooltip: str | None = None
    overridable: bool = True

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["options"] = list(self.options)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputSpec:
        values = dict(data)
        values["options"] = tuple(values.get("options") or ())
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Strategy:
    """A Pine strategy: its source and what it declares (title, inputs, strategy() settings)."""

    source: str
    title: str = ""
    path: str | None = None
    inputs: tuple[InputSpec, ...] = ()
    settings: FrozenMap = field(default_factory=FrozenMap)

    def input_by_key(self, key: str) -> InputSpec | None:
        """Find an input by its title (what users see) or its variable name; titles win."""
        for spec in self.inputs:
            if spec.title == key:
                return spec
        for spec in self.inputs:
            if spec.name == key:
                return spec
        folded = key.strip().casefold()
        for spec in self.inputs:
            if spec.title.strip().casefold() == folded:
                return spec
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "title": self.title,
            "path": self.path,
            "inputs": [spec.to_dict() for spec in self.inputs],
            "settings": dict(self.settings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Strategy:
        return cls(
            source=data["source"],
            title=data.get("title", ""),
            path=data.get("path"),
            inputs=tuple(InputSpec.from_dict(d) for d in data.get("inputs", ())),
            settings=FrozenMap(data.get("settings") or {}),
        )


# --------------------------------------------------------------------------- request


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """What the engine must know about the traded symbol.

    Any field left None is derived from the data (tick size from price decimals, point value 1,
    currency USD) and the derivation is reported as a warning on the result.
    """

    ticker: str = ""
    timeframe: str | None = None
    mintick: float | None = None
    pointvalue: float | None = None
    currency: str | None = None
    timezone: str = "UTC"
    session: str | None = None  # TradingView's session string ("0930-1600"); None: 24 hours

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SymbolSpec:
        return cls(**dict(data))


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    """Everything one backtest needs. Picklable: it travels to worker processes.

    `inputs` are overrides keyed by input title or variable name, in the order given.
    `date_from` / `date_to` limit trading; bars before `date_from` still warm indicators up.
    `settings` overrides `strategy()` arguments (initial_capital, commission_value, ...).
    `security`: (symbol, bars file) pairs for `request.security` on another symbol (or on the
    chart's symbol at a lower timeframe); the chart's own higher timeframes need none.
    `magnifier_path`: lower-timeframe bars of the chart's symbol that fill orders the way
    TradingView's "Bar magnifier" does.
    """

    strategy: Strategy
    data_path: str | None = None
    symbol: SymbolSpec = field(default_factory=SymbolSpec)
    inputs: tuple[tuple[str, InputValue], ...] = ()
    date_from: datetime | None = None
    date_to: datetime | None = None
    settings: tuple[tuple[str, Any], ...] = ()
    security: tuple[tuple[str, str], ...] = ()
    magnifier_path: str | None = None

    def data_files(self) -> tuple[str, ...]:
        """Every market-data file the backtest reads: the chart's, then the others."""
        files = [self.data_path] if self.data_path else []
        files += [path for _symbol, path in self.security]
        if self.magnifier_path:
            files.append(self.magnifier_path)
        return tuple(files)

    def with_inputs(self, overrides: Mapping[str, InputValue]) -> BacktestRequest:
        """A copy whose input overrides are these, replacing any earlier ones with the same key."""
        merged = dict(self.inputs)
        merged.update(overrides)
        return replace(self, inputs=tuple(merged.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy.to_dict(),
            "data_path": self.data_path,
            "symbol": self.symbol.to_dict(),
            "inputs": [list(pair) for pair in self.inputs],
            "date_from": _iso(self.date_from),
            "date_to": _iso(self.date_to),
            "settings": [list(pair) for pair in self.settings],
            "security": [list(pair) for pair in self.security],
            "magnifier_path": self.magnifier_path,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BacktestRequest:
        return cls(
            strategy=Strategy.from_dict(data["strategy"]),
            data_path=data.get("data_path"),
            symbol=SymbolSpec.from_dict(data.get("symbol") or {}),
            inputs=tuple((k, v) for k, v in data.get("inputs", ())),
            date_from=_parse_dt(data.get("date_from")),
            date_to=_parse_dt(data.get("date_to")),
            settings=tuple((k, v) for k, v in data.get("settings", ())),
            security=tuple((str(k), str(v)) for k, v in data.get("security", ())),
            magnifier_path=data.get("magnifier_path"),
        )


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, slots=True)
class Trade:
    """One trade of TradingView's "List of trades".

    Times are timezone-aware. Profit is after commission, in the account currency, and is None
    only for an export that does not state it. An open trade (`open=True`) has no exit; its
    `profit` is the unrealised P&L at the last bar when known. `run_up`/`drawdown` are
    TradingView's MFE/MAE in money.
    """

    number: int
    side: Side
    entry_time: datetime
    entry_price: float
    qty: float
    exit_time: datetime | None = None
    exit_price: float | None = None
    profit: float | None = None
    profit_percent: float | None = None
    entry_signal: str = ""
    exit_signal: str = ""
    open: bool = False
    commission: float | None = None
    run_up: float | None = None
    run_up_percent: float | None = None
    drawdown: float | None = None
    drawdown_percent: float | None = None
    cum_profit: float | None = None
    entry_bar: int | None = None
    exit_bar: int | None = None

    @property
    def bars(self) -> int | None:
        """Bars in the trade, as TradingView counts them (exit bar index − entry bar index)."""
        if self.entry_bar is None or self.exit_bar is None:
            return None
        return self.exit_bar - self.entry_bar

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            data[f.name] = _json_number(value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trade:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["entry_time"] = datetime.fromisoformat(values["entry_time"])
        values["exit_time"] = _parse_dt(values.get("exit_time"))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """Bar-by-bar equity: close equity plus the worst and best equity inside each bar.

    Times are UNIX milliseconds (UTC) of each bar's open. Stored as tuples so the value is
    immutable and cheap to pickle; analytics turn it into numpy arrays when they need them.
    """

    times: tuple[int, ...] = ()
    equity: tuple[float, ...] = ()
    equity_low: tuple[float, ...] = ()
    equity_high: tuple[float, ...] = ()
    close: tuple[float, ...] = ()

    def __len__(self) -> int:
        return len(self.times)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EquityCurve:
        return cls(**{f.name: tuple(data.get(f.name) or ()) for f in fields(cls)})


Metrics = FrozenMap
"""Metric key -> number (or None when undefined, such as a profit factor with no losses).

Keys are the snake_case names of tvdesk.metric_catalog; long/short variants end in
`_long`/`_short` and percent variants in `_percent`."""


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """The one result type: a local run, a TradingView run and an imported export all give it."""

    source: ResultSource
    metrics: Metrics = field(default_factory=FrozenMap)
    trades: tuple[Trade, ...] = ()
    properties: FrozenMap = field(default_factory=FrozenMap)
    equity_curve: EquityCurve = field(default_factory=EquityCurve)
    warnings: tuple[str, ...] = ()

    @property
    def closed_trades(self) -> tuple[Trade, ...]:
        return tuple(t for t in self.trades if not t.open)

    def to_dict(self, *, include_equity: bool = True) -> dict[str, Any]:
        """The result document of the machine interface (`--json`)."""
        data: dict[str, Any] = {
            "source": self.source,
            "metrics": {k: _json_number(v) for k, v in self.metrics.items()},
            "trades": [t.to_dict() for t in self.trades],
            "properties": _jsonable(self.properties),
            "warnings": list(self.warnings),
        }
        if include_equity:
            data["equity_curve"] = self.equity_curve.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BacktestResult:
        return cls(
            source=data["source"],
            metrics=FrozenMap(data.get("metrics") or {}),
            trades=tuple(Trade.from_dict(t) for t in data.get("trades", ())),
            properties=FrozenMap(data.get("properties") or {}),
            equity_curve=EquityCurve.from_dict(data.get("equity_curve") or {}),
            warnings=tuple(data.get("warnings", ())),
        )


def _jsonable(value: Any) -> Any:
    """Turn nested mappings, tuples, dates and non-finite floats into plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float):
        return _json_number(value)
    return value
