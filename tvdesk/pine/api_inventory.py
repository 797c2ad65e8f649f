"""Derive the allow-list of Pine names from PyneCore's own modules.

PyneCore implements each Pine namespace (`ta`, `strategy`, `log`, ...) as a Python module, and
those modules also carry what their implementation imports: `log` holds `os` and `sys`, `math`
holds `builtins`, most hold `lib`, from which every other module is reachable. So "whatever the
module has" is not the Pine API. This inventory keeps only what a Pine script can name:

- a child namespace (`strategy.commission`), never a module imported from elsewhere;
- a function, callable object or constant that PyneCore itself defines;
- a plain constant (number, string, bool);
- and drops PyneCore's own helpers that Pine does not have (`EXCLUDED`, with reasons).

The result is committed as data (`pine_api.txt`) and a test regenerates it: a PyneCore upgrade
that adds an import, a helper or a namespace shows up as a failing test and a reviewed diff,
never as a silently opened door. Regenerate with `python -m tvdesk.pine.api_inventory --write`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import sys
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

DATA_FILE = Path(__file__).with_name("pine_api.txt")

# Public names of PyneCore's Pine modules that are PyneCore's machinery, not Pine's API. Each was
# checked against Pine v6's reference: a script cannot name them, so neither may the module.
EXCLUDED: dict[str, str] = {
    "module_property": "decorator of PyneCore's module properties",
    "module_function_property": "decorator of PyneCore's module properties",
    "overload": "PyneCore's overload decorator (the transpiler imports its own)",
    "is_na": "PyneCore helper behind na()",
    "extra_fields": "data-feed internals",
    "updatetime": "live-feed internals",
    "next_vid": "drawing id counter",
    "alert.alert": "PyneCore's name for the top-level alert()",
    "request.nan": "PyneCore's float nan",
    "log.broker_debug": "PyneCore's broker log",
    "log.broker_error": "PyneCore's broker log",
    "log.broker_info": "PyneCore's broker log",
    "log.broker_warning": "PyneCore's broker log",
    "log.ohlcv_info": "PyneCore's data log",
    "log.sim_info": "PyneCore's simulation log",
    "log.rich": "optional terminal library",
    "log.handler": "PyneCore's logging handler (a value only where rich is installed)",
    "log.setup_security_file_log": "writes log files: PyneCore's security-process logging",
}
# `na_float`, `na_int`, ...: PyneCore's typed na constants; a script writes `na`.
EXCLUDED_PREFIXES = ("na_",)

# Constants of these types are inert data wherever they come from.
_PLAIN_CONSTANTS = (bool, int, float, str, type(None))


@dataclass(frozen=True, slots=True, order=True)
class ApiEntry:
    """One name a Pine script may reach, and what it is.

    kind: `namespace` (only the head of a longer name), `function` (called), `value` (read),
    or `object` (a singleton with members, like `input` and `chart.point`). `property` marks a
    namespace or function PyneCore reads as a value when named bare (`dayofweek`,
    `strategy.closedtrades`, `ta.tr`); `callable` a namespace that is also a function
    (`plot(...)`, `alert(...)`).
    """

    name: str
    kind: str
    property: bool = False
    callable: bool = False

    def line(self) -> str:
        flags = [flag for flag, on in (("property", self.property), ("callable", self.callable))
                 if on]
        return " ".join([self.name, self.kind, *flags])


def _module_properties() -> dict[str, set[str]]:
    """PyneCore's own table of members read as values: module -> member names."""
    text = resources.files("pynecore.transformers").joinpath("module_properties.json").read_text()
    table = json.loads(text)
    return {module: {name for name, info in members.items() if info.get("type") == "property"}
            for module, members in table.items()}


def _import_all_namespaces() -> types.ModuleType:
    lib = importlib.import_module("pynecore.lib")
    for lazy in ("script", "input"):  # bound on first access by the package's __getattr__
        getattr(lib, lazy)
    for info in pkgutil.walk_packages(lib.__path__, "pynecore.lib."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            importlib.import_module(info.name)
    return lib


def _defined_in_pynecore(value: object) -> bool:
    module = getattr(value, "__module__", None)
    if module is None and not isinstance(value, type):
        module = type(value).__module__
    return isinstance(module, str) and (module == "pynecore" or module.startswith("pynecore."))


def _excluded(dotted: str, name: str, value: object) -> bool:
    """PyneCore machinery a Pine script cannot name (see EXCLUDED)."""
    if dotted in EXCLUDED or name in EXCLUDED or name.startswith(EXCLUDED_PREFIXES):
        return True
    if isinstance(value, typing.TypeVar) or name == "TYPE_CHECKING":
        return True  # typing helpers
    parts = dotted.split(".")
    if len(parts) > 1 and parts[-1] == parts[-2]:
        return True  # `dayofweek.dayofweek`: the function behind a bare module property
    # Pine spells its constants in lower case; only currency codes are upper case.
    return name.isupper() and parts[0] != "currency"


def _is_namespace_object(value: object) -> bool:
    """A private singleton that stands for a Pine namespace (`chart.point`, `input`)."""
    return _defined_in_pynecore(value) and type(value).__name__.startswith("_") \
        and not isinstance(value, (type, types.ModuleType))


def _object_members(obj: object, prefix: str) -> list[ApiEntry]:
    """Members of a callable object such as `input` (`input.int`) or `chart.point`."""
    entries = []
    for name in sorted(dir(type(obj))):
        if name.startswith("_"):
            continue
        member = getattr(obj, name, None)
        if callable(member) and _defined_in_pynecore(member) and not isinstance(member, type):
            entries.append(ApiEntry(f"{prefix}.{name}", "function"))
    return entries


def _walk(module: types.ModuleType, prefix: str, properties: dict[str, set[str]],
          lib_name: str) -> list[ApiEntry]:
    entries: list[ApiEntry] = []
    table_key = "lib" + module.__name__[len(lib_name):]
    module_props = properties.get(table_key, set())
    for name in sorted(vars(module)):
        if name.startswith("_"):
            continue
        value = vars(module)[name]
        dotted = f"{prefix}{name}"
        if _excluded(dotted, name, value):
            continue
        is_property = name in module_props
        if isinstance(value, types.ModuleType):
            # Only true child namespaces: `strategy.commission`, never `log.os` or `ta.lib`.
            if value.__name__ != f"{module.__name__}.{name}":
                continue
            # `plot(...)`: PyneCore calls the namespace's own same-named function
            is_callable = inspect.isroutine(vars(value).get(name))
            entries.append(ApiEntry(dotted, "namespace", is_property, is_callable))
            entries.extend(_walk(value, dotted + ".", properties, lib_name))
        elif isinstance(value, type):
            continue  # classes are PyneCore's types; the transpiler's few are listed apart
        elif inspect.isroutine(value):
            if _defined_in_pynecore(value):
                entries.append(ApiEntry(dotted, "function", is_property))
        elif _is_namespace_object(value):
            entries.append(ApiEntry(dotted, "object", is_property))
            entries.extend(_object_members(value, dotted))
        elif isinstance(value, _PLAIN_CONSTANTS) or _defined_in_pynecore(value):
            entries.append(ApiEntry(dotted, "value", is_property))
    return entries


def inventory() -> list[ApiEntry]:
    """Every Pine name PyneCore implements, as entries sorted by name."""
    lib = _import_all_namespaces()
    entries = _walk(lib, "", _module_properties(), lib.__name__)
    # `script` is the class behind the `@script.strategy(...)` declaration the transpiler emits.
    entries.append(ApiEntry("script", "object"))
    entries.append(ApiEntry("script.strategy", "function"))
    return sorted(set(entries))


def render(entries: list[ApiEntry]) -> str:
    from importlib import metadata

    head = [
        "# The Pine names a strategy may reach on the local engine: `name kind [flags]`.",
        "# Generated from pynesys-pynecore "
        f"{metadata.version('pynesys-pynecore')} by `python -m tvdesk.pine.api_inventory "
        "--write`;",
        "# change the rules in tvdesk/pine/api_inventory.py, never this file by hand.",
    ]
    return "\n".join(head + [entry.line() for entry in entries]) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render(inventory())
    if "--write" in args:
        DATA_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {DATA_FILE.name}: {text.count(chr(10)) - 3} names")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
