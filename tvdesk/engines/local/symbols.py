"""Build PyneCore's SymInfo from what the user said and what the data shows.

Tick size and point value matter as much as the engine: prices snap to the tick grid and P&L
is price × quantity × point value. Whatever the user did not give is derived (tick size from
the prices' decimals, point value 1, currency USD) and reported as a warning, so a trader sees
which numbers rest on a guess.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from tvdesk.data.market_data import Bars, derive_mintick, parse_timeframe
from tvdesk.data.sessions import Session, parse_session, pynecore_hours
from tvdesk.model import SymbolSpec

_FOREX_CODES = {"EUR", "USD", "GBP", "JPY", "CHF", "AUD", "CAD", "NZD", "SEK", "NOK", "MXN"}
_CRYPTO_QUOTES = ("USDT", "USDC", "BUSD", "BTC", "ETH")


@dataclass(frozen=True, slots=True)
class ResolvedSymbol:
    ticker: str
    prefix: str
    kind: str
    currency: str
    basecurrency: str | None
    mintick: float
    pointvalue: float
    mincontract: float
    timezone: str
    timeframe: str
    warnings: tuple[str, ...]
    facts: tuple[str, ...] = ()  # each fact the run used and where it came from
    session: Session = field(default_factory=lambda: parse_session(None))


def _guess_kind(ticker: str) -> tuple[str, str | None]:
    """A best guess of (symbol type, base currency) from the ticker; 'other' when unsure."""
    core = ticker.upper().rsplit(":", 1)[-1].split(".", 1)[0].replace("/", "")
    if len(core) == 6 and core[:3] in _FOREX_CODES and core[3:] in _FOREX_CODES:
        return "forex", core[:3]
    for quote in _CRYPTO_QUOTES:
        if core.endswith(quote) and len(core) > len(quote):
            return "crypto", core[: -len(quote)]
    return "other", None


# TradingView's "Export chart data…" names its file "EXCHANGE_TICKER, TIMEFRAME" (then maybe
# "_5f2a1" or " (2)" when a file of that name exists): "BINANCE_BTCUSDT, 60_9e8cf.csv",
# "CME_MINI_MNQ1!, 240.csv" (the exchange may hold an underscore, the ticker does not).
_TV_EXPORT_NAME = re.compile(r"^(?P<symbol>[^,]+_[^,_]+),\s*(?P<tf>\d*[SDWM]?)(?:[_ (].*)?$")


def symbol_from_file_name(path: str) -> tuple[str, str] | None:
    """("BINANCE:BTCUSDT", "60") from a TradingView chart export's file name, else None."""
    stem = path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    match = _TV_EXPORT_NAME.match(stem)
    if not match or not match.group("tf"):
        return None
    exchange, _, ticker = match.group("symbol").rpartition("_")
    return f"{exchange.upper()}:{ticker.upper()}", match.group("tf").upper()


def resolve_symbol(spec: SymbolSpec, bars: Bars) -> ResolvedSymbol:
    warnings: list[str] = []
    facts: list[str] = []
    named = symbol_from_file_name(bars.path)
    if spec.ticker:
        ticker = spec.ticker
        facts.append(f"symbol {ticker} (given)")
    elif named:
        ticker = named[0]
        facts.append(f"symbol {ticker} (named by the TradingView export's file name)")
    else:
        ticker = _ticker_from_path(bars.path)
        facts.append(f"symbol {ticker} (guessed from the file name; give --symbol)")
    prefix, _, name = ticker.rpartition(":")
    kind, base = _guess_kind(name)
    facts.append(f"type {kind} (from the ticker)")
    mintick = spec.mintick
    if mintick is None:
        mintick = derive_mintick(bars.price_decimals)
        warnings.append(
            f"tick size not given: using {mintick:g} from the data's price decimals "
            "(set --mintick to match TradingView's symbol)"
        )
        facts.append(f"tick size {mintick:g} (assumed from the prices' decimals)")
    else:
        facts.append(f"tick size {mintick:g} (given)")
    pointvalue = spec.pointvalue
    if pointvalue is None:
        pointvalue = 1.0
        warnings.append("point value not given: using 1 (set --pointvalue for futures/CFDs)")
        facts.append("point value 1 (assumed)")
    else:
        facts.append(f"point value {pointvalue:g} (given)")
    currency = spec.currency or "USD"
    facts.append(f"currency {currency} ({'given' if spec.currency else 'assumed'})")
    facts.append(f"timezone {spec.timezone}")
    session = parse_session(spec.session)
    facts.append(f"session {session.text} (given)" if spec.session
                 else "session 24 hours from midnight (assumed; set --session)")
    facts.append(f"timeframe {spec.timeframe or bars.timeframe} "
                 f"({'given' if spec.timeframe else 'from the bars'})")
    if spec.timeframe and not _same_timeframe(spec.timeframe, bars.timeframe):
        warnings.append(
            f"timeframe {spec.timeframe!r} was given but the data looks like {bars.timeframe!r}"
        )
    mincontract = 1e-05 if base == "BTC" else 1e-04 if kind == "crypto" else 1.0
    return ResolvedSymbol(
        ticker=name.upper(), prefix=(prefix or "LOCAL").upper(), kind=kind, currency=currency,
        basecurrency=base, mintick=mintick, pointvalue=pointvalue, mincontract=mincontract,
        timezone=spec.timezone, timeframe=spec.timeframe or bars.timeframe,
        warnings=tuple(warnings), facts=tuple(facts), session=session,
    )


def _same_timeframe(declared: str, detected: str) -> bool:
    """Whether two timeframes have the same bar length, however each is spelled.

    The detected one is TradingView's code ("1D") and the declared one what the user gave
    ("1440", "D"): comparing the text warned about a timeframe the data matches. A declared
    timeframe that is not one (only possible from code) still differs, so it is reported.
    """
    if declared == detected:
        return True
    given, found = parse_timeframe(declared), parse_timeframe(detected)
    return given is not None and found is not None and math.isclose(given[1], found[1])


def _ticker_from_path(path: str) -> str:
    stem = path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem.split("_", 1)[0] or "DATA"


def to_pynecore(symbol: ResolvedSymbol):  # -> pynecore SymInfo (imported lazily: heavy)
    from pynecore.core.syminfo import SymInfo

    # TradingView's way: mintick = minmove / pricescale with pricescale a power of ten.
    decimals = len(f"{symbol.mintick:.10f}".rstrip("0").split(".")[1])
    pricescale = 10 ** decimals
    opening_hours, session_starts, session_ends = pynecore_hours(symbol.session)
    return SymInfo(
        prefix=symbol.prefix, description=symbol.ticker, ticker=symbol.ticker,
        currency=symbol.currency, basecurrency=symbol.basecurrency, period=symbol.timeframe,
        type=symbol.kind, mintick=symbol.mintick,
        pricescale=pricescale, minmove=max(1, round(symbol.mintick * pricescale)),
        pointvalue=symbol.pointvalue, mincontract=symbol.mincontract,
        opening_hours=opening_hours, session_starts=session_starts, session_ends=session_ends,
        timezone=symbol.timezone,
    )
