"""Settings and strategy profiles, from one TOML file.

The file lives in the platform's config folder (`tvdesk.paths.default_config_file`) unless
`--config` names another. A profile bundles what a trader repeats on every run: the Pine
file, the data, the symbol, the date range, inputs, conditions and targets. CLI flags override
a profile field by field. Every mistake names the file, the key and what was expected.

Secrets never live here: a key that looks like a password, API key or TOTP secret is refused
with a pointer to `tvdesk credentials set`, which stores them in the OS keyring.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from tvdesk import paths
from tvdesk.errors import ConfigError

_SECRET_WORDS = ("password", "passwd", "secret", "api_key", "apikey", "token", "totp")
_SECRET_ALLOWED = {"min_tokens", "max_tokens"}


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
                 "currency", "from", "to", "conditions", "condition_input", "inputs", "targets"}


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
    return Profile(
        name=name, script=r.path("script"), data=r.path("data"),
        symbol=r.get("symbol", str, "text such as \"FX:EURUSD\""),
        timeframe=r.get("timeframe", str, "text such as \"60\" or \"1D\""),
        timezone=r.get("timezone", str, "an IANA timezone name such as \"UTC\""),
        mintick=r.get("mintick", (int, float), "a positive number"),
        pointvalue=r.get("pointvalue", (int, float), "a positive number"),
        currency=r.get("currency", str, "a currency code such as \"USD\""),
        date_from=r.date("from"), date_to=r.date("to"),
        conditions=None if conditions is None else str(conditions),
        condition_input=r.get("condition_input", str, "an input title") or "Condition",
        inputs=dict(inputs), targets={k: float(v) for k, v in targets.items()},
    )


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
    top.reject_unknown({"engine", "processes", "timezone", "profiles", "llm"})
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
    return Settings(path=file, engine=engine, processes=processes or 1,
                    timezone=top.get("timezone", str, "an IANA timezone name") or "UTC",
                    profiles=profiles,
                    llm_base_url=llm.get("base_url", str, "an http(s) URL"),
                    llm_models=tuple(models),
                    llm_model=llm.get("model", str, "a model name or \"auto\""))
