"""One chart of a watchlist: a symbol at a timeframe, with its bars file and symbol facts.

Kept in the data layer so the optimiser can store a run's charts with its settings (resume
runs exactly the charts the run started with) without importing the application layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from tvdesk.model import BacktestRequest, SymbolSpec


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart of a watchlist: a symbol at a timeframe, its bars file and symbol facts."""

    symbol: str
    timeframe: str  # TradingView's code: "15", "60", "240", "1D"
    data_path: str
    timezone: str = "UTC"
    mintick: float | None = None
    pointvalue: float | None = None
    currency: str | None = None
    session: str | None = None

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.timeframe}"

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "timeframe": self.timeframe,
                "data_path": self.data_path, "timezone": self.timezone,
                "mintick": self.mintick, "pointvalue": self.pointvalue,
                "currency": self.currency, "session": self.session}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Chart:
        return cls(symbol=str(data["symbol"]), timeframe=str(data["timeframe"]),
                   data_path=str(data["data_path"]), timezone=str(data.get("timezone") or "UTC"),
                   mintick=data.get("mintick"), pointvalue=data.get("pointvalue"),
                   currency=data.get("currency"), session=data.get("session"))

    def request(self, base: BacktestRequest) -> BacktestRequest:
        """`base` (strategy, inputs, window, properties) on this chart."""
        symbol = SymbolSpec(ticker=self.symbol, timeframe=self.timeframe, mintick=self.mintick,
                            pointvalue=self.pointvalue,
                            currency=self.currency or base.symbol.currency,
                            timezone=self.timezone, session=self.session)
        return replace(base, data_path=self.data_path, symbol=symbol)
