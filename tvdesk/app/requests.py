"""Build a BacktestRequest from what the user said: a profile, then flags on top.

Every command that reads market data (evaluate, parity, optimize, ...) goes through here, so
`--data`, `--timezone`, `--mintick`, `--pointvalue`, `--from`, `--to` and `--input` mean the
same everywhere and fail with the same messages. The GUI fills a `RunOptions` from its form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tvdesk.config import Profile
from tvdesk.errors import InputError, PineError
from tvdesk.model import BacktestRequest, InputValue, Strategy, SymbolSpec
from tvdesk.pine.loader import load_strategy


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The data and symbol options shared by every command (None: not given)."""

    script: str | None = None
    data: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    timezone: str | None = None
    mintick: float | None = None
    pointvalue: float | None = None
    currency: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    inputs: tuple[str, ...] = ()
    settings: tuple[tuple[str, object], ...] = field(default_factory=tuple)


def parse_input_flag(text: str) -> tuple[str, str]:
    """`"Fast Length=12"` -> ("Fast Length", "12")."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"expected \"Title=value\", got {text!r}", source="--input")
    return key.strip(), value.strip()


def check_timezone(name: str, flag: str = "--timezone") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown timezone {name!r}; expected an IANA name such as "
                         "'UTC' or 'America/New_York'", source=flag) from None
    return name


def parse_when(text: str | date | None, tz: str, flag: str, *, end_of_day: bool) -> datetime | None:
    """A date or datetime in the chart's timezone; a bare `--to` date includes that whole day."""
    if text is None or text == "":
        return None
    if isinstance(text, date) and not isinstance(text, datetime):
        day = text
        when = None
    else:
        try:
            when = datetime.fromisoformat(str(text))
        except ValueError:
            raise InputError(f"expected a date YYYY-MM-DD (or YYYY-MM-DD HH:MM), got {text!r}",
                             source=flag) from None
        day = when.date() if len(str(text)) <= 10 else None
    zone = ZoneInfo(tz)
    if day is not None:
        start = datetime.combine(day, time(0), zone)
        return start + timedelta(days=1, milliseconds=-1) if end_of_day else start
    assert when is not None
    return when if when.tzinfo else when.replace(tzinfo=zone)


def _load(script: str, engine: str) -> Strategy:
    try:
        return load_strategy(script)
    except PineError as exc:
        if engine != "tradingview":
            raise
        import logging

        from tvdesk.pine.loader import read_pine_file
        from tvdesk.pine.pine_inputs import strategy_from_text

        logging.getLogger(__name__).warning("the local transpiler cannot read %s (%s); "
                                            "sending it to TradingView as it is", script, exc)
        return strategy_from_text(read_pine_file(script), path=script)


def _positive(value: float | None, flag: str) -> float | None:
    if value is not None and not value > 0:
        raise InputError(f"expected a positive number, got {value!r}", source=flag)
    return value


def build_request(options: RunOptions, profile: Profile | None = None,
                  default_timezone: str = "UTC", engine: str = "local") -> BacktestRequest:
    """Merge profile and flags (flags win), load and check the script, and make the request.

    For the TradingView engine a script the local transpiler refuses is still sent (its
    inputs read from the Pine text): TradingView is the judge of what compiles there.
    """
    p = profile or Profile(name="")
    script = options.script or (str(p.script) if p.script else None)
    if not script:
        raise InputError("no strategy given: use --script FILE.pine or --profile NAME",
                         source="--script")
    tz = check_timezone(options.timezone or p.timezone or default_timezone)
    strategy = _load(script, engine)
    inputs: dict[str, InputValue] = {k: v for k, v in p.inputs.items()}
    for flag in options.inputs:
        key, value = parse_input_flag(flag)
        inputs[key] = value
    data = options.data or (str(p.data) if p.data else None)
    date_from = parse_when(options.date_from or p.date_from, tz, "--from", end_of_day=False)
    date_to = parse_when(options.date_to or p.date_to, tz, "--to", end_of_day=True)
    if date_from and date_to and date_from > date_to:
        raise InputError("--from is after --to", source="--from")
    symbol = SymbolSpec(
        ticker=options.symbol or p.symbol or "",
        timeframe=options.timeframe or p.timeframe,
        mintick=_positive(options.mintick if options.mintick is not None else p.mintick,
                          "--mintick"),
        pointvalue=_positive(options.pointvalue if options.pointvalue is not None
                             else p.pointvalue, "--pointvalue"),
        currency=options.currency or p.currency,
        timezone=tz,
    )
    return BacktestRequest(strategy=strategy, data_path=data, symbol=symbol,
                           inputs=tuple(inputs.items()), date_from=date_from, date_to=date_to,
                           settings=tuple(options.settings))
