"""Build a BacktestRequest from what the user said: a profile, then flags on top.

Every command that reads market data (evaluate, parity, optimize, ...) goes through here, so
`--data`, `--timezone`, `--mintick`, `--pointvalue`, `--from`, `--to` and `--input` mean the
same everywhere and fail with the same messages. The GUI fills a `RunOptions` from its form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tvdesk.config import Profile, is_timezone
from tvdesk.errors import ConfigError, InputError, PineError
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
    security: tuple[str, ...] = ()
    magnifier_data: str | None = None
    session: str | None = None


def parse_input_flag(text: str) -> tuple[str, str]:
    """`"Fast Length=12"` -> ("Fast Length", "12")."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"expected \"Title=value\", got {text!r}", source="--input")
    return key.strip(), value.strip()


def parse_security_flag(text: str) -> tuple[str, str]:
    """`"BINANCE:BTCUSDT=btc_15m.csv"` -> ("BINANCE:BTCUSDT", "btc_15m.csv")."""
    symbol, sep, path = text.partition("=")
    if not sep or not symbol.strip() or not path.strip():
        raise InputError(f"expected \"SYMBOL=FILE\" (for example BINANCE:BTCUSDT=btc.csv), "
                         f"got {text!r}", source="--security")
    return symbol.strip(), path.strip()


def security_files(profile: Profile, flags: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The profile's `security` table with the `--security` flags on top (a flag replaces the
    profile's file for the same symbol); one symbol given twice on flags is refused."""
    merged = {symbol.upper(): (symbol, str(path)) for symbol, path in profile.security.items()}
    given: dict[str, str] = {}
    for flag in flags:
        symbol, path = parse_security_flag(flag)
        if symbol.upper() in given:
            raise InputError(f"--security {given[symbol.upper()]!r} and --security {flag!r} "
                             f"both give bars for {symbol}; give it once", source="--security")
        given[symbol.upper()] = flag
        merged[symbol.upper()] = (symbol, path)
    for symbol, path in merged.values():
        if not Path(path).is_file():
            raise InputError(f"the bars file for {symbol} does not exist: {path}",
                             source="--security")
    return tuple(merged.values())


def check_timezone(name: str, flag: str = "--timezone") -> str:
    """A timezone given on a flag (InputError naming `flag` otherwise, never a traceback:
    ZoneInfo raises OSError for a folder such as "America" or an over-long name)."""
    if not is_timezone(name):
        raise InputError(f"unknown timezone {name!r}; expected an IANA name such as "
                         "'UTC' or 'America/New_York'", source=flag)
    return name


def _config_timezone(name: str, key: str) -> str:
    """A timezone that came from the settings or a profile, reported against its config key.

    `load_settings` checks these already; this covers Settings and Profiles built in code
    (the GUI), so a bad value is never blamed on a `--timezone` the user did not give.
    """
    if not is_timezone(name):
        raise ConfigError(f"key {key!r}: expected an IANA timezone name such as \"UTC\" or "
                          f"\"America/New_York\", got {name!r}", source="the config file")
    return name


def _chart_timezone(options: RunOptions, profile: Profile, default_timezone: str) -> str:
    """The flag, else the profile's, else the settings' timezone, each checked where it came
    from, so the error names the flag or the config key the user has to fix."""
    if options.timezone:
        return check_timezone(options.timezone)
    if profile.timezone:
        return _config_timezone(profile.timezone, f"profiles.{profile.name}.timezone")
    return _config_timezone(default_timezone, "timezone")


def parse_when(text: str | date | None, tz: str, flag: str, *, end_of_day: bool) -> datetime | None:
    """A date or datetime in the chart's timezone; a bare `--to` date includes that whole day."""
    if text is None or text == "":
        return None
    day: date | None
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


def _input_key(strategy: Strategy, key: str) -> str:
    """What an override key stands for: the input's variable name when the script declares it
    (a title, the name, or the title in another case all mean the same input), else the key
    (an unknown key is reported by the engine, with the list of the script's inputs)."""
    spec = strategy.input_by_key(key)
    return spec.name if spec is not None else key


def _describe_input(strategy: Strategy, name: str) -> str:
    spec = next((s for s in strategy.inputs if s.name == name), None)
    return f"{spec.title!r} ({spec.name})" if spec is not None else repr(name)


def _profile_inputs(profile: Profile, strategy: Strategy) -> dict[str, tuple[str, InputValue]]:
    """The profile's inputs by the input they set; two keys for one input are refused (TOML
    allows "Fast Length" and "fastLen" side by side, and which wins would be a guess)."""
    by_input: dict[str, tuple[str, InputValue]] = {}
    for key, value in profile.inputs.items():
        name = _input_key(strategy, key)
        if name in by_input:
            raise ConfigError(f"inputs {by_input[name][0]!r} and {key!r} both set the input "
                              f"{_describe_input(strategy, name)}; give it once",
                              source=f"profile {profile.name!r}")
        by_input[name] = (key, value)
    return by_input


def merge_inputs(profile: Profile, flags: tuple[str, ...],
                 strategy: Strategy) -> dict[str, InputValue]:
    """The profile's inputs with the `--input` flags on top: a flag replaces the profile's
    value for the same input, however either names it.

    Two flags that set the same input (a title and the variable name, or one title twice)
    are refused, naming both: silently keeping the first or the last would backtest values
    the user may not have meant, and nothing in the result would show it.
    """
    merged = _profile_inputs(profile, strategy)
    given: dict[str, str] = {}
    for flag in flags:
        key, value = parse_input_flag(flag)
        name = _input_key(strategy, key)
        if name in given:
            raise InputError(f"--input {given[name]!r} and --input {flag!r} both set the "
                             f"input {_describe_input(strategy, name)}; give it once",
                             source="--input")
        given[name] = flag
        merged[name] = (key, value)
    return dict(merged.values())


def _check_timeframe(symbol: SymbolSpec, data: str) -> SymbolSpec:
    """The symbol with its declared timeframe checked against the bars of `data` and written
    as TradingView's code ("1h" -> "60", which PyneCore needs).

    Only for the local engine, which reads the data anyway (a second read here is cheap);
    doing it here covers evaluate, parity and optimize alike, and the GUI's form too.
    """
    from tvdesk.data.market_data import check_timeframe, load_bars

    assert symbol.timeframe
    bars = load_bars(data, timezone=symbol.timezone)
    return replace(symbol, timeframe=check_timeframe(symbol.timeframe, bars))


def _session(text: str | None) -> str | None:
    """A session string, checked now so a typo is reported against --session at once."""
    if not text:
        return None
    from tvdesk.data.sessions import parse_session

    return parse_session(text).text


def check_positive(value: float | None, flag: str) -> float | None:
    """A tick size or point value: positive and finite, or None when not given.

    `float("inf")` and `float("nan")` parse as numbers, so argparse lets them through; an
    infinite tick crashed the engine with a traceback and an infinite point value made every
    money figure meaningless, so both are refused here, naming the flag.
    """
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise InputError(f"expected a positive finite number, got {value!r}", source=flag)
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
    tz = _chart_timezone(options, p, default_timezone)
    strategy = _load(script, engine)
    inputs = merge_inputs(p, options.inputs, strategy)
    data = options.data or (str(p.data) if p.data else None)
    date_from = parse_when(options.date_from or p.date_from, tz, "--from", end_of_day=False)
    date_to = parse_when(options.date_to or p.date_to, tz, "--to", end_of_day=True)
    if date_from and date_to and date_from > date_to:
        raise InputError("--from is after --to", source="--from")
    symbol = SymbolSpec(
        ticker=options.symbol or p.symbol or "",
        timeframe=options.timeframe or p.timeframe,
        mintick=check_positive(options.mintick if options.mintick is not None else p.mintick,
                          "--mintick"),
        pointvalue=check_positive(options.pointvalue if options.pointvalue is not None
                             else p.pointvalue, "--pointvalue"),
        currency=options.currency or p.currency,
        timezone=tz,
        session=_session(options.session or p.session),
    )
    if engine == "local" and data and symbol.timeframe:
        symbol = _check_timeframe(symbol, data)
    magnifier = options.magnifier_data or (str(p.magnifier_data) if p.magnifier_data else None)
    if magnifier and not Path(magnifier).is_file():
        raise InputError(f"the bar magnifier's bars file does not exist: {magnifier}",
                         source="--magnifier-data")
    return BacktestRequest(strategy=strategy, data_path=data, symbol=symbol,
                           inputs=tuple(inputs.items()), date_from=date_from, date_to=date_to,
                           settings=tuple({**p.properties, **dict(options.settings)}.items()),
                           security=security_files(p, options.security),
                           magnifier_path=magnifier)
