"""The Pine names a strategy may reach, as the safety check reads them.

Two sources, both data: `pine_api.txt`, generated from PyneCore's Pine namespaces (see
api_inventory), and `TRANSPILER_HELPERS`, the handful of PyneCore runtime helpers the offline
transpiler imports by name (`udt`, `method_call`, `Series`, ...). Nothing else in PyneCore, the
standard library or Python's builtins is reachable from a script.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

# What the transpiler imports from outside `pynecore.lib`, module by module: name -> role.
# Roles: `type` (annotations, isinstance, constructors), `function` (called), `decorator`
# (only above a definition), `method_call` (first argument names the method), `field`
# (a UDT field's default factory), `loop` (the re-reading loop counter).
TRANSPILER_HELPERS: dict[str, dict[str, str]] = {
    "pynecore": {"pine_range": "function", "pine_loop": "loop"},
    "pynecore.types": {
        "Series": "type", "Persistent": "type", "PersistentSeries": "type",
        "IBPersistent": "type", "Box": "type", "Label": "type", "Line": "type",
        "LineFill": "type", "Polyline": "type", "Table": "type", "Color": "type",
        "Matrix": "type",
    },
    "pynecore.types.chart": {"ChartPoint": "type"},
    "pynecore.core.pine_cast": {"cast_bool": "function", "cast_float": "function",
                                "cast_int": "function"},
    "pynecore.core.pine_method": {"method": "decorator", "method_call": "method_call"},
    "pynecore.core.pine_udt": {"udt": "decorator", "udt_copy": "function"},
    "pynecore.core.overload": {"overload": "decorator"},
    "typing": {"Any": "type"},
    "dataclasses": {"field": "field"},
}
# `NA(float)`: the typed na the transpiler writes for an na field or default.
LIB_HELPERS: dict[str, str] = {"NA": "type"}

# The namespaces whose functions a Pine method call on a built-in object can reach
# (`arr.size()` -> `method_call('size', arr)`); PyneCore dispatches on the receiver's class.
METHOD_NAMESPACES = ("array", "matrix", "map", "line", "box", "label", "table", "linefill",
                     "polyline")

# Fields of PyneCore's built-in objects that a script reads by name, and the members of the
# objects the transpiler itself creates: the loop counter (`step`, `value`) and a map iterated
# with for...in (`items`).
BUILTIN_OBJECT_FIELDS = frozenset({"time", "index", "price", "step", "value", "items"})


@dataclass(frozen=True, slots=True)
class PineName:
    """One entry of the allow-list: `kind` is namespace, function, value or object."""

    path: str
    kind: str
    property: bool = False   # read as a value when named bare (`dayofweek`, `ta.tr`)
    callable: bool = False   # a namespace that is also a function (`plot(...)`)


class PineApi:
    """The allow-list as a lookup: dotted path -> PineName."""

    def __init__(self, text: str) -> None:
        self.names: dict[str, PineName] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            flags = set(parts[2:])
            if len(parts) < 2 or parts[1] not in ("namespace", "function", "value", "object") \
                    or not flags <= {"property", "callable"}:
                raise ValueError(f"pine_api.txt, line {number}: expected `name kind [flags]`")
            self.names[parts[0]] = PineName(parts[0], parts[1], "property" in flags,
                                            "callable" in flags)
        self.digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        self.method_names = frozenset(
            path.split(".", 1)[1] for path in self.names
            if path.split(".", 1)[0] in METHOD_NAMESPACES and path.count(".") == 1
            and self.names[path].kind == "function")

    def get(self, path: str) -> PineName | None:
        return self.names.get(path)

    def top_level(self, name: str) -> PineName | None:
        """A name `from pynecore.lib import NAME` may bring in."""
        return self.names.get(name) if "." not in name else None


@cache
def pine_api() -> PineApi:
    text = resources.files("tvdesk.pine").joinpath("pine_api.txt").read_text(encoding="utf-8")
    return PineApi(text)
