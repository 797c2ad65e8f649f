"""Settings and strategy profiles, from one TOML file.

The file lives in the platform's config folder (`tvdesk.paths.default_config_file`) unless
`--config` names another. A profile bundles what a trader repeats on every run: the Pine
file, the data, the symbol, the date range, inputs, conditions and targets. CLI flags override
a profile field by field. Every mistake names the file, the key and what was expected.

Secrets never live here: a key that looks like a password, API key or TOTP secret is refused
with a pointer to `tvdesk credentials set`, which stores them in the OS keyring.

`save_settings` writes the file back (the GUI's Settings dialog), keeping the profiles, and
checks what it wrote by reading it again before it replaces the old file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from tvdesk import paths
from tvdesk.errors import ConfigError, InputError

_TIMEZONE_EXPECTED = "an IANA timezone name such as \"UTC\" or \"America/New_York\""

_SECRET_WORDS = ("password", "passwd", "secret", "api_key", "apikey", "token", "totp")
_SECRET_ALLOWED = {"min_tokens", "max_tokens"}


def is_timezone(name: object) -> bool:
    """Whether `name` is a timezone ZoneInfo knows, exactly as written.

    Checked when the file is read, so a typo is reported against its file and key rather than
    later against `--timezone`, a flag the user never gave. ZoneInfo raises several kinds of
    error for bad names (not found, a folder such as "America", a path, a name too long).
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(name, str) or not name or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    script: Path | None = None
    data: Path | None = None
    symbol: str | None = None
    timeframe: str | None = None
    timezone: str | None = None
    mintick: float | None = None
    pointvalue: float | None = None
    currency: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    conditions: str | None = None
    condition_input: str = "Condition"
    inputs: Mapping[str, Any] = field(default_factory=dict)
    targets: Mapping[str, float] = field(default_factory=dict)
    security: Mapping[str, Path] = field(default_factory=dict)
    magnifier_data: Path | None = None
    session: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)  # strategy() overrides
    symbols: tuple[str, ...] = ()  # a watchlist (the market data library's symbols)
    timeframes: tuple[str, ...] = ()
    watchlist: str | None = None  # a [watchlists] name
    aggregate: str | None = None  # the watchlist objective: median, min or mean
    search_timeframe: bool = False


STRATEGY_PROPERTIES = {"initial_capital", "default_qty_type", "default_qty_value",
                       "commission_type", "commission_value", "slippage"}
"""The strategy() arguments a profile (or the setup form) may override for its runs."""


@dataclass(frozen=True, slots=True)
class TradingViewSettings:
    """How tvdesk drives TradingView (the `[tradingview]` table).

    The defaults are the pacing that kept accounts safe (one page, a random pause of
    `pause_seconds` between runs, at most `runs_per_hour`); raising them is allowed with a
    warning, because running several tabs for hours got accounts banned.
    """

    browser: str | None = None
    headless: bool = True
    pages: int = 1
    pause_seconds: tuple[float, float] = (10.0, 25.0)
    runs_per_hour: int = 60
    step_timeout: float = 20.0
    report_timeout: float = 180.0


TRADINGVIEW_KEYS = {"browser", "headless", "pages", "pause_seconds", "runs_per_hour",
                    "step_timeout", "report_timeout"}


@dataclass(frozen=True, slots=True)
class OptimizeDefaults:
    """Defaults of `tvdesk optimize` (the `[optimize]` table); a flag can only turn them on.

    `stop_on_target`: stop a track at the first trial meeting the targets (default: targets
    filter and steer, and the whole budget is spent). `git_commit`: commit each new best to
    `git_repository` on every run, as `--git-commit` does; `git_push`: push after each commit.
    """

    stop_on_target: bool = False
    git_commit: bool = False
    git_repository: Path | None = None
    git_push: bool = False


OPTIMIZE_KEYS = {"stop_on_target", "git_commit", "git_repository", "git_push"}


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """Where backtests run when they run on a Dask cluster (the `[cluster]` table).

    `address`: the scheduler's, e.g. "tcp://10.0.0.5:8786" ("": this machine's own worker
    processes). A `tls://` address uses Dask's TLS with these certificate files (the CA that
    signed the scheduler's and workers' certificates, this head's certificate and key).
    """

    address: str = ""
    tls_ca_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None


CLUSTER_KEYS = {"address", "tls_ca_file", "tls_cert", "tls_key"}
_CLUSTER_SCHEMES = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")


@dataclass(frozen=True, slots=True)
class Settings:
    path: Path | None = None
    engine: str = "local"
    processes: int = 1
    timezone: str = "UTC"
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    llm_base_url: str | None = None
    llm_models: tuple[str, ...] = ()
    llm_model: str | None = None
    tradingview: TradingViewSettings = field(default_factory=TradingViewSettings)
    optimize: OptimizeDefaults = field(default_factory=OptimizeDefaults)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    watchlists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def watchlist(self, name: str) -> tuple[str, ...]:
        try:
            return self.watchlists[name]
        except KeyError:
            known = ", ".join(sorted(self.watchlists)) or "none defined"
            where = str(self.path) if self.path else "the config file"
            raise ConfigError(f"no watchlist named {name!r} in [watchlists] (watchlists: "
                              f"{known})", source=where) from None

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none defined"
            where = str(self.path) if self.path else "the config file"
            raise ConfigError(f"no profile named {name!r} (profiles: {known})",
                              source=where) from None


class _Reader:
    """Typed access to one TOML table with errors that say file, key and expectation."""

    def __init__(self, file: Path, table: Mapping[str, Any], prefix: str = "") -> None:
        self.file = file
        self.table = table
        self.prefix = prefix

    def fail(self, key: str, expected: str, got: Any) -> ConfigError:
        return ConfigError(f"key '{self.prefix}{key}': expected {expected}, got {got!r}",
                           source=str(self.file))

    def get(self, key: str, kind: type | tuple[type, ...], expected: str) -> Any:
        if key not in self.table:
            return None
        value = self.table[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(key, expected, value)
        if not isinstance(value, kind):
            raise self.fail(key, expected, value)
        return value

    def path(self, key: str) -> Path | None:
        value = self.get(key, str, "a file path (text)")
        if value is None:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.file.parent / path)

    def timezone(self, key: str) -> str | None:
        value = self.get(key, str, _TIMEZONE_EXPECTED)
        if value is not None and not is_timezone(value):
            raise self.fail(key, _TIMEZONE_EXPECTED, value)
        return value

    def date(self, key: str) -> date | None:
        value = self.table.get(key)
        if value is None:
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self.fail(key, "a date YYYY-MM-DD", value)

    def reject_unknown(self, known: set[str]) -> None:
        for key in self.table:
            if key not in known:
                raise ConfigError(
                    f"unknown key '{self.prefix}{key}' (known keys: {', '.join(sorted(known))})",
                    source=str(self.file),
                )


def _refuse_secrets(file: Path, table: Mapping[str, Any], prefix: str = "") -> None:
    for key, value in table.items():
        lowered = key.casefold()
        if lowered not in _SECRET_ALLOWED and any(word in lowered for word in _SECRET_WORDS):
            raise ConfigError(
                f"key '{prefix}{key}' looks like a secret; secrets are kept only in the OS "
                "keyring: remove it and run `tvdesk credentials set tradingview` (or `llm`)",
                source=str(file),
            )
        if isinstance(value, Mapping) and not prefix.endswith("inputs."):
            _refuse_secrets(file, value, f"{prefix}{key}.")


_PROFILE_KEYS = {"script", "data", "symbol", "timeframe", "timezone", "mintick", "pointvalue",
                 "currency", "from", "to", "conditions", "condition_input", "inputs", "targets",
                 "security", "magnifier_data", "session", "properties", "symbols",
                 "timeframes", "watchlist", "aggregate", "search_timeframe"}


def _read_profile(file: Path, name: str, table: Any) -> Profile:
    if not isinstance(table, Mapping):
        raise ConfigError(f"key 'profiles.{name}': expected a table, got {table!r}",
                          source=str(file))
    r = _Reader(file, table, f"profiles.{name}.")
    r.reject_unknown(_PROFILE_KEYS)
    inputs = r.get("inputs", dict, "a table of input title = value") or {}
    targets = r.get("targets", dict, "a table of metric = number") or {}
    for key, value in targets.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise r.fail(f"targets.{key}", "a number", value)
    conditions = r.get("conditions", (str, int), "a condition list such as \"1-3,7\"")
    security = r.get("security", dict, "a table of symbol = bars file") or {}
    security_files = _Reader(file, security, f"profiles.{name}.security.")
    properties = r.get("properties", dict, "a table of strategy() argument = value") or {}
    _Reader(file, properties, f"profiles.{name}.properties.").reject_unknown(
        STRATEGY_PROPERTIES)
    for key, value in properties.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise r.fail(f"properties.{key}", "a number or a strategy.* name", value)
    return Profile(
        name=name, script=r.path("script"), data=r.path("data"),
        symbol=r.get("symbol", str, "text such as \"FX:EURUSD\""),
        timeframe=r.get("timeframe", str, "text such as \"60\" or \"1D\""),
        timezone=r.timezone("timezone"),
        mintick=r.get("mintick", (int, float), "a positive number"),
        pointvalue=r.get("pointvalue", (int, float), "a positive number"),
        currency=r.get("currency", str, "a currency code such as \"USD\""),
        date_from=r.date("from"), date_to=r.date("to"),
        conditions=None if conditions is None else str(conditions),
        condition_input=r.get("condition_input", str, "an input title") or "Condition",
        inputs=dict(inputs), targets={k: float(v) for k, v in targets.items()},
        security={str(k): path for k in security
                  if (path := security_files.path(str(k))) is not None},
        magnifier_data=r.path("magnifier_data"),
        session=r.get("session", str, "a session such as \"0930-1600\""),
        properties=dict(properties),
        symbols=_text_list(r, "symbols", "a list of symbols such as [\"BINANCE:BTCUSDT\"]"),
        timeframes=_text_list(r, "timeframes", "a list of timeframes such as [\"15\", \"60\"]"),
        watchlist=r.get("watchlist", str, "a [watchlists] name"),
        aggregate=_aggregate(r),
        search_timeframe=bool(r.get("search_timeframe", bool, "true or false")),
    )


def _aggregate(r: _Reader) -> str | None:
    expected = "\"median\", \"min\" or \"mean\""
    value = r.get("aggregate", str, expected)
    if value is not None and value not in ("median", "min", "mean"):
        raise r.fail("aggregate", expected, value)
    return value


def _text_list(r: _Reader, key: str, expected: str) -> tuple[str, ...]:
    value = r.get(key, list, expected) or []
    if not all(isinstance(item, (str, int)) and not isinstance(item, bool) for item in value):
        raise r.fail(key, expected, value)
    return tuple(str(item) for item in value)


def load_settings(path: Path | str | None = None) -> Settings:
    """Read settings; a missing default file means defaults, a missing named file is an error."""
    explicit = path is not None
    file = Path(path) if path is not None else paths.default_config_file()
    if not file.exists():
        if explicit:
            raise ConfigError("config file not found", source=str(file))
        return Settings()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(file)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file: {exc}", source=str(file)) from None
    _refuse_secrets(file, data)
    top = _Reader(file, data)
    top.reject_unknown({"engine", "processes", "timezone", "profiles", "llm", "tradingview",
                        "optimize", "cluster", "watchlists"})
    llm_table = top.get("llm", dict, "a table with base_url, models, model") or {}
    llm = _Reader(file, llm_table, "llm.")
    llm.reject_unknown({"base_url", "models", "model"})
    models = llm.get("models", list, "a list of model names") or []
    if not all(isinstance(m, str) for m in models):
        raise llm.fail("models", "a list of model names", models)
    engine = top.get("engine", str, "\"local\" or \"tradingview\"") or "local"
    if engine not in ("local", "tradingview"):
        raise top.fail("engine", "\"local\" or \"tradingview\"", engine)
    processes = top.get("processes", int, "a whole number ≥ 1")
    if processes is not None and processes < 1:
        raise top.fail("processes", "a whole number ≥ 1", processes)
    profiles_table = top.get("profiles", dict, "a table of profiles") or {}
    profiles = {name: _read_profile(file, name, table) for name, table in profiles_table.items()}
    watch_table = top.get("watchlists", dict, "a table of name = [symbols]") or {}
    watch = _Reader(file, watch_table, "watchlists.")
    watchlists = {str(name): _text_list(watch, str(name), "a list of symbols such as "
                                        "[\"BINANCE:BTCUSDT\", \"BINANCE:ETHUSDT\"]")
                  for name in watch_table}
    return Settings(path=file, engine=engine, processes=processes or 1, watchlists=watchlists,
                    timezone=top.timezone("timezone") or "UTC",
                    profiles=profiles,
                    llm_base_url=llm.get("base_url", str, "an http(s) URL"),
                    llm_models=tuple(models),
                    llm_model=llm.get("model", str, "a model name or \"auto\""),
                    tradingview=_read_tradingview(file, top),
                    optimize=_read_optimize(file, top),
                    cluster=_read_cluster(file, top))


def check_cluster_address(address: str, source: str = "--cluster") -> str:
    """A scheduler address as Dask writes it ("" is none), or an InputError naming `source`."""
    address = address.strip()
    if address and not address.startswith(_CLUSTER_SCHEMES):
        raise InputError(f"expected a Dask scheduler address such as tcp://HOST:8786 or "
                         f"tls://HOST:8786, got {address!r}", source=source)
    return address


def _read_cluster(file: Path, top: _Reader) -> ClusterSettings:
    table = top.get("cluster", dict, "a table with the scheduler's address") or {}
    r = _Reader(file, table, "cluster.")
    r.reject_unknown(CLUSTER_KEYS)
    address = r.get("address", str, "a Dask scheduler address such as tcp://HOST:8786") or ""
    if address and not address.strip().startswith(_CLUSTER_SCHEMES):
        raise r.fail("address", "a Dask scheduler address such as tcp://HOST:8786", address)
    return ClusterSettings(address=address.strip(), tls_ca_file=r.path("tls_ca_file"),
                           tls_cert=r.path("tls_cert"), tls_key=r.path("tls_key"))


def _read_optimize(file: Path, top: _Reader) -> OptimizeDefaults:
    table = top.get("optimize", dict, "a table of optimisation defaults") or {}
    r = _Reader(file, table, "optimize.")
    r.reject_unknown(OPTIMIZE_KEYS)
    default = OptimizeDefaults()

    def flag(key: str) -> bool:
        value = r.get(key, bool, "true or false")
        return bool(getattr(default, key)) if value is None else bool(value)

    return OptimizeDefaults(stop_on_target=flag("stop_on_target"), git_commit=flag("git_commit"),
                            git_repository=r.path("git_repository"), git_push=flag("git_push"))


def _read_tradingview(file: Path, top: _Reader) -> TradingViewSettings:
    table = top.get("tradingview", dict, "a table of browser and pacing settings") or {}
    r = _Reader(file, table, "tradingview.")
    r.reject_unknown(TRADINGVIEW_KEYS)
    default = TradingViewSettings()
    number = (int, float)

    def positive(key: str, kind: type | tuple[type, ...], expected: str, fallback: Any) -> Any:
        value = r.get(key, kind, expected)
        if value is None:
            return fallback
        if not value > 0:
            raise r.fail(key, expected, value)
        return value

    pause = r.get("pause_seconds", list, "[min, max] seconds, e.g. [10, 25]")
    if pause is None:
        pause_pair = default.pause_seconds
    elif (len(pause) != 2 or not all(isinstance(v, number) and not isinstance(v, bool)
                                     and v >= 0 for v in pause) or pause[0] > pause[1]):
        raise r.fail("pause_seconds", "[min, max] seconds with 0 ≤ min ≤ max", pause)
    else:
        pause_pair = (float(pause[0]), float(pause[1]))
    headless = r.get("headless", bool, "true or false")
    return TradingViewSettings(
        browser=r.get("browser", str, "the path of a Chrome/Chromium executable"),
        headless=default.headless if headless is None else headless,
        pages=positive("pages", int, "a whole number ≥ 1", default.pages),
        pause_seconds=pause_pair,
        runs_per_hour=positive("runs_per_hour", int, "a whole number ≥ 1", default.runs_per_hour),
        step_timeout=float(positive("step_timeout", number, "seconds > 0", default.step_timeout)),
        report_timeout=float(positive("report_timeout", number, "seconds > 0",
                                      default.report_timeout)),
    )


def _tradingview_table(tv: TradingViewSettings) -> dict[str, Any]:
    """Only the keys that differ from the defaults, so the file stays short."""
    default = TradingViewSettings()
    table: dict[str, Any] = {}
    for key in sorted(TRADINGVIEW_KEYS):
        value = getattr(tv, key)
        if value != getattr(default, key) and value is not None:
            table[key] = list(value) if isinstance(value, tuple) else value
    return table


def _cluster_table(cluster: ClusterSettings) -> dict[str, Any]:
    table: dict[str, Any] = {}
    if cluster.address:
        table["address"] = cluster.address
    for key in ("tls_ca_file", "tls_cert", "tls_key"):
        value = getattr(cluster, key)
        if value is not None:
            table[key] = str(value)
    return table


def _optimize_table(optimize: OptimizeDefaults, folder: Path) -> dict[str, Any]:
    """Only the keys that differ from the defaults; the repository relative to the config file
    when it lies beside or below it."""
    table: dict[str, Any] = {}
    for key in ("stop_on_target", "git_commit", "git_push"):
        if getattr(optimize, key):
            table[key] = True
    if optimize.git_repository is not None:
        try:
            table["git_repository"] = optimize.git_repository.relative_to(folder).as_posix()
        except ValueError:
            table["git_repository"] = str(optimize.git_repository)
    return table


# ------------------------------------------------------------------------------ writing


def check_settings(settings: Settings, source: str = "settings") -> None:
    """The checks a settings form needs beyond what the TOML reader enforces.

    ConfigError names the key as `load_settings` does, so a form can point at the field.
    """
    def fail(key: str, expected: str, got: Any) -> ConfigError:
        return ConfigError(f"key '{key}': expected {expected}, got {got!r}", source=source)

    if settings.engine not in ("local", "tradingview"):
        raise fail("engine", "\"local\" or \"tradingview\"", settings.engine)
    if isinstance(settings.processes, bool) or not isinstance(settings.processes, int) \
            or settings.processes < 1:
        raise fail("processes", "a whole number ≥ 1", settings.processes)
    if not is_timezone(settings.timezone):
        raise fail("timezone", _TIMEZONE_EXPECTED, settings.timezone)
    url = settings.llm_base_url
    if url is not None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
            raise fail("llm.base_url", "an http(s) URL such as "
                       "\"https://api.openai.com/v1\"", url)
    for model in settings.llm_models:
        if not model or model != model.strip() or "," in model:
            raise fail("llm.models", "a list of model names", list(settings.llm_models))
    chosen = settings.llm_model
    if chosen is not None and chosen != "auto" and chosen not in settings.llm_models:
        raise fail("llm.model", "\"auto\" or one of llm.models "
                   f"({', '.join(settings.llm_models) or 'none listed'})", chosen)


def _profile_table(profile: Profile, folder: Path) -> dict[str, Any]:
    def path_text(path: Path) -> str:
        try:  # relative to the config file when it lies beside or below it, as users write
            return path.relative_to(folder).as_posix()
        except ValueError:
            return str(path)

    table: dict[str, Any] = {}
    simple = {"script": profile.script, "data": profile.data,
              "magnifier_data": profile.magnifier_data}
    for key, value in simple.items():
        if value is not None:
            table[key] = path_text(value)
    for key in ("symbol", "timeframe", "timezone", "mintick", "pointvalue", "currency",
                "session"):
        value = getattr(profile, key)
        if value is not None:
            table[key] = value
    if profile.date_from is not None:
        table["from"] = profile.date_from
    if profile.date_to is not None:
        table["to"] = profile.date_to
    if profile.conditions is not None:
        table["conditions"] = profile.conditions
    if profile.condition_input != "Condition":
        table["condition_input"] = profile.condition_input
    if profile.inputs:
        table["inputs"] = dict(profile.inputs)
    if profile.targets:
        table["targets"] = dict(profile.targets)
    if profile.security:
        table["security"] = {symbol: path_text(path) for symbol, path in profile.security.items()}
    if profile.properties:
        table["properties"] = dict(profile.properties)
    for key in ("symbols", "timeframes"):
        if getattr(profile, key):
            table[key] = list(getattr(profile, key))
    if profile.watchlist:
        table["watchlist"] = profile.watchlist
    if profile.aggregate:
        table["aggregate"] = profile.aggregate
    if profile.search_timeframe:
        table["search_timeframe"] = True
    return table


def _raw_document(file: Path) -> dict[str, Any]:
    if not file.exists():
        return {}
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}; fix or remove it before saving settings",
                          source=str(file)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file: {exc}", source=str(file)) from None


def save_settings(settings: Settings, path: Path | str | None = None, *,
                  forbidden: Iterable[str | None] = ()) -> Path:
    """Write `settings` as TOML to `path` (default: `settings.path`, else the default file).

    Profiles are kept: a profile whose table in the existing file still reads as the same
    Profile is written back as it was (relative paths, `~`), others are written from the
    Profile. Keys tvdesk does not manage are not kept (load_settings refuses them anyway);
    comments are lost (the TOML writer does not keep them). Secrets are never written: a key
    that looks like one is refused as on reading, and so is any value containing one of
    `forbidden` (the stored keyring secrets, so a key pasted into a field cannot land here).

    The text is written to a temporary file beside the target and read back with
    `load_settings` before it replaces the target, so an error (ConfigError, naming the key)
    leaves the existing file untouched.
    """
    import os
    import tempfile

    import tomli_w

    file = Path(path) if path is not None else (settings.path or paths.default_config_file())
    check_settings(settings, str(file))
    raw = _raw_document(file)
    found = raw.get("profiles")
    raw_profiles: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    document: dict[str, Any] = {
        "engine": settings.engine,
        "processes": settings.processes,
        "timezone": settings.timezone,
    }
    llm: dict[str, Any] = {}
    if settings.llm_base_url is not None:
        llm["base_url"] = settings.llm_base_url
    if settings.llm_models:
        llm["models"] = list(settings.llm_models)
    if settings.llm_model is not None:
        llm["model"] = settings.llm_model
    if llm:
        document["llm"] = llm
    tradingview = _tradingview_table(settings.tradingview)
    if tradingview:
        document["tradingview"] = tradingview
    optimize = _optimize_table(settings.optimize, file.parent)
    if optimize:
        document["optimize"] = optimize
    cluster = _cluster_table(settings.cluster)
    if cluster:
        document["cluster"] = cluster
    profiles: dict[str, Any] = {}
    for name, profile in settings.profiles.items():
        kept = raw_profiles.get(name)
        if kept is not None:
            try:
                if _read_profile(file, name, kept) == profile:
                    profiles[name] = kept
                    continue
            except ConfigError:
                pass
        profiles[name] = _profile_table(profile, file.parent)
    if profiles:
        document["profiles"] = profiles
    if settings.watchlists:
        document["watchlists"] = {name: list(symbols)
                                  for name, symbols in settings.watchlists.items()}
    _refuse_secrets(file, document)
    try:
        text = tomli_w.dumps(document)
    except TypeError as exc:
        raise ConfigError(f"cannot write the settings as TOML: {exc}", source=str(file)) from None
    for secret in forbidden:
        if secret and len(secret) >= 4 and secret in text:
            raise ConfigError("a stored secret (password, TOTP secret or API key) appears in "
                              "the settings; secrets are kept only in the OS keyring: remove it",
                              source=str(file))
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".toml")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if file.exists():  # keep the permissions the user gave the file
            tmp.chmod(file.stat().st_mode & 0o7777)
        try:
            load_settings(tmp)  # read back exactly as the CLI will
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(str(tmp), str(file))) from None
        os.replace(tmp, file)
    finally:
        tmp.unlink(missing_ok=True)
    return file
