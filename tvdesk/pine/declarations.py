"""What a strategy declares: its title, its strategy() settings and its inputs.

Read from the transpiled Python rather than from Pine text: the transpiler has already parsed
every Pine dialect (v1–v6) into one regular shape, `@script.strategy(...)` over
`def main(name=input.int(...), ...)`, which Python's own `ast` reads reliably. Inputs declared
inside an expression (`x = input.float(2) / 100`) are listed but marked not overridable,
because the engine can only set inputs that are parameters of `main`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any

from tvdesk.model import FrozenMap, InputKind, InputSpec, InputValue, Strategy

_KIND_BY_FUNC: dict[str, InputKind] = {
    "int": "int", "float": "float", "bool": "bool", "string": "string", "source": "source",
    "timeframe": "timeframe", "session": "session", "symbol": "symbol", "color": "color",
    "time": "time", "price": "price", "text_area": "text_area", "enum": "enum",
}
# Positional parameters after (defval, title), per input function, as Pine defines them.
_POSITIONAL: dict[str, tuple[str, ...]] = {
    "int": ("minval", "maxval", "step", "tooltip", "inline", "group"),
    "float": ("minval", "maxval", "step", "tooltip", "inline", "group"),
}


def _literal(node: ast.AST) -> Any:
    """A literal value, or the dotted text of a name such as `close` or `color.red`."""
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return ast.unparse(node)


def _input_call(node: ast.AST) -> tuple[str, ast.Call] | None:
    """`input.int(...)` -> ("int", call); `input(...)` -> ("", call); otherwise None."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and func.value.id == "input":
        return func.attr, node
    if isinstance(func, ast.Name) and func.id == "input":
        return "", node
    return None


def _spec_from_call(name: str, func: str, call: ast.Call, *, overridable: bool) -> InputSpec:
    args: dict[str, Any] = {}
    positional = ("defval", "title", *_POSITIONAL.get(func, ()))
    for key, arg in zip(positional, call.args, strict=False):
        args[key] = _literal(arg)
    for kw in call.keywords:
        if kw.arg:
            args[kw.arg] = _literal(kw.value)
    default = args.get("defval")
    kind: InputKind = _KIND_BY_FUNC.get(func, "other")
    if not func:  # plain input(): the kind follows the default's type
        kind = ("bool" if isinstance(default, bool) else "int" if isinstance(default, int)
                else "float" if isinstance(default, float) else "string"
                if isinstance(default, str) else "other")
    if kind == "float" and isinstance(default, int) and not isinstance(default, bool):
        default = float(default)
    options = args.get("options") or ()
    title = args.get("title")
    return InputSpec(
        name=name,
        title=title if isinstance(title, str) and title else name,
        kind=kind,
        default=default if isinstance(default, (int, float, bool, str)) else None,
        minval=_number(args.get("minval")),
        maxval=_number(args.get("maxval")),
        step=_number(args.get("step")),
        options=tuple(options) if isinstance(options, (list, tuple)) else (),
        group=args.get("group") if isinstance(args.get("group"), str) else None,
        tooltip=args.get("tooltip") if isinstance(args.get("tooltip"), str) else None,
        overridable=overridable,
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _find_main(tree: ast.Module) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            return node
    return None


def _strategy_decorator(main: ast.FunctionDef) -> ast.Call | None:
    for deco in main.decorator_list:
        if isinstance(deco, ast.Call) and ast.unparse(deco.func) == "script.strategy":
            return deco
    return None


def read_declarations(python: str) -> tuple[str, dict[str, Any], tuple[InputSpec, ...]]:
    """(title, strategy settings, inputs) of a transpiled strategy module."""
    tree = ast.parse(python)
    main = _find_main(tree)
    if main is None:
        return "", {}, ()
    title = ""
    settings: dict[str, Any] = {}
    deco = _strategy_decorator(main)
    if deco is not None:
        if deco.args:
            title = str(_literal(deco.args[0]))
        for kw in deco.keywords:
            if kw.arg == "title":
                title = str(_literal(kw.value))
            elif kw.arg:
                settings[kw.arg] = _literal(kw.value)

    specs: list[InputSpec] = []
    params = main.args.args
    defaults = main.args.defaults
    for param, default in zip(params[len(params) - len(defaults):], defaults, strict=True):
        found = _input_call(default)
        if found:
            specs.append(_spec_from_call(param.arg, found[0], found[1], overridable=True))
    seen = {spec.name for spec in specs}
    for node in ast.walk(ast.Module(body=main.body, type_ignores=[])):
        found = _input_call(node)
        if found:
            spec = _spec_from_call(f"<expr line {found[1].lineno}>", found[0], found[1],
                                   overridable=False)
            if spec.title not in seen:
                specs.append(spec)
                seen.add(spec.title)
    return title, settings, tuple(specs)


def build_strategy(pine_source: str, python: str, path: str | None = None) -> Strategy:
    title, settings, inputs = read_declarations(python)
    return Strategy(source=pine_source, title=title, path=path, inputs=inputs,
                    settings=FrozenMap(settings))


def coerce_input(spec: InputSpec, raw: InputValue) -> InputValue:
    """Turn a user's value (often a CLI string) into the input's type, or raise ValueError.

    The message says what was expected, so callers can prefix the input's title and show it.
    """
    kind = spec.kind
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().casefold()
        if text in {"true", "on", "yes", "1"}:
            return True
        if text in {"false", "off", "no", "0"}:
            return False
        raise ValueError(f"expected true/false (or on/off), got {raw!r}")
    if kind == "int":
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected a whole number, got {raw!r}") from None
        if isinstance(raw, bool) or not number.is_integer():
            raise ValueError(f"expected a whole number, got {raw!r}")
        value: InputValue = int(number)
    elif kind in ("float", "price"):
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {raw!r}") from None
        if isinstance(raw, bool):
            raise ValueError(f"expected a number, got {raw!r}")
    else:
        value = str(raw)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if spec.minval is not None and value < spec.minval:
            raise ValueError(f"{value} is below the minimum {spec.minval:g}")
        if spec.maxval is not None and value > spec.maxval:
            raise ValueError(f"{value} is above the maximum {spec.maxval:g}")
    if spec.options and value not in spec.options:
        choices = ", ".join(repr(o) for o in spec.options)
        raise ValueError(f"expected one of {choices}, got {raw!r}")
    if kind == "source" and value not in SOURCES:
        raise ValueError(f"expected a price source ({', '.join(SOURCES)}), got {raw!r}")
    return value


SOURCES = ("open", "high", "low", "close", "hl2", "hlc3", "ohlc4", "hlcc4", "volume")


def match_inputs(overrides: Iterable[tuple[str, InputValue]],
                 inputs: tuple[InputSpec, ...]) -> list[tuple[InputSpec, InputValue]]:
    """Each override (keyed by title, variable name, or title ignoring case) with its input
    declaration and its value in the input's type. InputError (source --input) otherwise.

    Every engine resolves inputs here, so `--input "Fast Length=12"` means the same locally
    and on TradingView.
    """
    from tvdesk.errors import InputError

    by_title = {spec.title: spec for spec in inputs}
    by_name = {spec.name: spec for spec in inputs}
    matched: dict[str, tuple[InputSpec, InputValue]] = {}
    for key, raw in overrides:
        spec = by_title.get(key) or by_name.get(key)
        if spec is None:
            folded = key.strip().casefold()
            spec = next((s for s in inputs if s.title.strip().casefold() == folded), None)
        if spec is None:
            valid = "; ".join(f"{s.title!r} ({s.kind}, default {s.default!r})" for s in inputs)
            raise InputError(f"unknown input {key!r}; the script's inputs are: {valid or 'none'}",
                             source="--input")
        try:
            matched[spec.name] = (spec, coerce_input(spec, raw))
        except ValueError as exc:
            raise InputError(f"input {spec.title!r}: {exc}", source="--input") from None
    return list(matched.values())
