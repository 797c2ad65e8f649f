"""The selector book: every element tvdesk touches on TradingView, read from selectors.toml.

Selectors are data, not code, because TradingView changes its DOM every few months: a user
(or a patch release) edits one file. A copy named `tradingview-selectors.toml` in tvdesk's
config folder overrides the bundled steps it names, so a fix needs no new build.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tvdesk import paths
from tvdesk.errors import ConfigError

BUNDLED = Path(__file__).with_name("selectors.toml")
OVERRIDE_NAME = "tradingview-selectors.toml"
_KINDS = ("role", "label", "placeholder", "text", "css")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One way to find an element: a role (+ exact name or name regex), label, text or CSS."""

    kind: str
    value: str
    name: str | None = None
    name_regex: str | None = None

    def describe(self) -> str:
        if self.kind == "role":
            if self.name is not None:
                return f"role={self.value} name={self.name!r}"
            if self.name_regex is not None:
                return f"role={self.value} name~/{self.name_regex}/"
            return f"role={self.value}"
        return f"{self.kind}={self.value!r}" if self.kind != "css" else self.value


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    what: str
    candidates: tuple[Candidate, ...]
    optional: bool = False
    scope: str | None = None

    def tried(self) -> str:
        return "; ".join(c.describe() for c in self.candidates)


@dataclass(frozen=True, slots=True)
class Popup:
    what: str
    overlay: str
    close: str


CLOSE_NAMES = ("×", "✕", "No thanks", "Maybe later", "Not now", "Got it", "Close", "Dismiss",
               "Skip")


@dataclass(frozen=True, slots=True)
class Modals:
    """How to tell a blocking dialog tvdesk did not open, and how to close it."""

    blocking: str = "[aria-modal='true'], [role='dialog'], [role='alertdialog']"
    own: str = ""  # tvdesk's own dialogs (settings, date range, interval): never closed
    fields: str = ("input, textarea, select, [contenteditable='true'], [role='textbox'], "
                   "[role='combobox'], [role='tab']")
    close: str = "[data-name='close'], [data-name='popup-close']"
    close_names: tuple[str, ...] = CLOSE_NAMES


@dataclass(frozen=True, slots=True)
class SelectorBook:
    steps: Mapping[str, Step]
    popups: tuple[Popup, ...]
    source: str
    modals: Modals = Modals()

    def __getitem__(self, key: str) -> Step:
        try:
            return self.steps[key]
        except KeyError:
            raise ConfigError(f"no step {key!r} in the selector file", source=self.source) \
                from None


def _candidate(source: str, step: str, raw: Any) -> Candidate:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"step [{step}]: each candidate must be a table such as "
                          "{ css = \"...\" }", source=source)
    kinds = [k for k in _KINDS if k in raw]
    unknown = set(raw) - set(_KINDS) - {"name", "name_regex"}
    if len(kinds) != 1 or unknown or not all(isinstance(v, str) for v in raw.values()):
        raise ConfigError(f"step [{step}]: a candidate needs exactly one of {', '.join(_KINDS)} "
                          f"(text values; role may add name or name_regex), got {dict(raw)}",
                          source=source)
    kind = kinds[0]
    if kind != "role" and ("name" in raw or "name_regex" in raw):
        raise ConfigError(f"step [{step}]: name/name_regex only go with role", source=source)
    return Candidate(kind, raw[kind], raw.get("name"), raw.get("name_regex"))


def _modals(raw: Any, source: str) -> Modals:
    if not isinstance(raw, Mapping) or set(raw) - {"blocking", "own", "fields", "close",
                                                   "close_names"}:
        raise ConfigError("[modals] takes blocking, own, fields, close (CSS texts) and "
                          "close_names (a list of button names)", source=source)
    names = raw.get("close_names", list(CLOSE_NAMES))
    texts = {k: raw[k] for k in ("blocking", "own", "fields", "close") if k in raw}
    if not all(isinstance(v, str) for v in texts.values()) or not isinstance(names, list) \
            or not all(isinstance(n, str) for n in names):
        raise ConfigError("[modals]: CSS keys must be text, close_names a list of texts",
                          source=source)
    return Modals(**texts, close_names=tuple(names))


def _parse(text: str, source: str) -> tuple[dict[str, Step], list[Popup], Modals | None]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=source) from None
    steps: dict[str, Step] = {}
    popups: list[Popup] = []
    modals: Modals | None = None
    for key, table in data.items():
        if key == "modals":
            modals = _modals(table, source)
            continue
        if key == "popups":
            for raw in table:
                if not all(isinstance(raw.get(k), str) for k in ("what", "overlay", "close")):
                    raise ConfigError("each [[popups]] needs text keys what, overlay, close",
                                      source=source)
                popups.append(Popup(raw["what"], raw["overlay"], raw["close"]))
            continue
        if not isinstance(table, Mapping) or not isinstance(table.get("candidates"), list) \
                or not table["candidates"]:
            raise ConfigError(f"step [{key}] needs a non-empty candidates list", source=source)
        steps[key] = Step(
            key=key, what=str(table.get("what", key)),
            candidates=tuple(_candidate(source, key, c) for c in table["candidates"]),
            optional=bool(table.get("optional", False)),
            scope=table.get("scope"),
        )
    return steps, popups, modals


@cache
def _load(override: Path | None, mtime: float | None) -> SelectorBook:
    steps, popups, modals = _parse(BUNDLED.read_text(encoding="utf-8"), str(BUNDLED))
    source = str(BUNDLED)
    if override is not None:
        try:
            text = override.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the selector file: {exc}", source=str(override)) \
                from None
        extra_steps, extra_popups, extra_modals = _parse(text, str(override))
        steps.update(extra_steps)
        popups = extra_popups or popups
        modals = extra_modals or modals
        source = f"{override} (over the bundled {BUNDLED.name})"
    for step in steps.values():
        if step.scope is not None and step.scope not in steps:
            raise ConfigError(f"step [{step.key}] is scoped to unknown step {step.scope!r}",
                              source=source)
    return SelectorBook(steps=steps, popups=tuple(popups), source=source,
                        modals=modals or Modals())


def load_selectors() -> SelectorBook:
    """The bundled book with the user's override file (config folder) on top, if any."""
    override = paths.config_dir() / OVERRIDE_NAME
    if override.exists():
        return _load(override, override.stat().st_mtime)
    return _load(None, None)
