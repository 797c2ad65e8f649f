"""Set the defaults of a Pine script's inputs in its text, changing nothing else.

Shipping a winner back to TradingView means a script that, loaded with no input touched,
trades as the winning trial did. Only the default argument of each named `input*()` call is
replaced; titles, ranges, tooltips, comments, spacing and line breaks stay byte for byte, so the
trader's diff shows exactly the numbers that changed.

The text is read with a small scanner that knows Pine's comments, strings and brackets instead of
a regular expression, because real inputs span lines, carry `defval=` keywords, nest calls in
their arguments (`minval=math.max(1, x)`) and hide commas in tooltips.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from tvdesk.errors import PineError
from tvdesk.model import InputValue

_IDENT = re.compile(r"[A-Za-z_]\w*")
_CALL = re.compile(r"(?<![\w.])input(?:\s*\.\s*(?P<kind>[A-Za-z_]\w*))?\s*\(")
_ASSIGNED = re.compile(r"(?P<name>[A-Za-z_]\w*)\s*:?=\s*$")
_KEYWORD = re.compile(r"\s*(?P<key>[A-Za-z_]\w*)\s*=(?!=)")
# `input(..., type=input.integer)` in Pine v4; v5+ spell the kind in the function name.
_OLD_TYPES = {"integer": "int", "int": "int", "float": "float", "bool": "bool",
              "string": "string", "source": "source", "resolution": "timeframe",
              "session": "session", "symbol": "symbol", "time": "time", "color": "color"}
_TEXT_KINDS = {"string", "timeframe", "session", "symbol", "text_area"}


@dataclass(frozen=True, slots=True)
class InputCall:
    """One `input*()` call as written: where its default is and what it is called."""

    kind: str
    title: str | None
    variable: str | None
    default_text: str
    default_span: tuple[int, int] | None  # None: the call has no default argument
    line: int


def _skip_string(text: str, i: int) -> int:
    """Index just after the string literal starting at `i`."""
    quote, i = text[i], i + 1
    while i < len(text) and text[i] != quote and text[i] != "\n":
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _code_mask(text: str) -> str:
    """The text with comments and string contents blanked, so searches only see code."""
    out = list(text)
    i = 0
    while i < len(text):
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
        elif c in "\"'":
            end = min(_skip_string(text, i), len(text))
            out[i + 1:end - 1] = " " * max(0, end - i - 2)
            i = end
        else:
            i += 1
    return "".join(out)


def _arguments(text: str, mask: str, open_paren: int) -> tuple[list[tuple[int, int]], int]:
    """The spans of the call's top-level arguments, and the index of its closing bracket."""
    spans: list[tuple[int, int]] = []
    depth, start, i = 0, open_paren + 1, open_paren + 1
    while i < len(mask):
        c = mask[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            if depth == 0:
                if text[start:i].strip():
                    spans.append((start, i))
                return spans, i
            depth -= 1
        elif c == "," and depth == 0:
            spans.append((start, i))
            start = i + 1
        i += 1
    raise PineError(f"line {text.count(chr(10), 0, open_paren) + 1}: an input() call is not "
                    "closed")


def _strip(text: str, span: tuple[int, int]) -> tuple[int, int]:
    start, end = span
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _string_value(literal: str) -> str | None:
    literal = literal.strip()
    if len(literal) >= 2 and literal[0] in "\"'" and literal[-1] == literal[0]:
        return re.sub(r"\\(.)", r"\1", literal[1:-1])
    return None


def input_calls(source: str) -> Iterator[InputCall]:
    """Every `input()` / `input.<kind>()` call in the script, in order."""
    mask = _code_mask(source)
    for match in _CALL.finditer(mask):
        kind = match.group("kind") or ""
        args, _close = _arguments(source, mask, match.end() - 1)
        named: dict[str, tuple[int, int]] = {}
        positional: list[tuple[int, int]] = []
        for span in args:
            keyword = _KEYWORD.match(mask, span[0], span[1])
            if keyword:
                named[keyword.group("key")] = _strip(source, (keyword.end(), span[1]))
            else:
                positional.append(_strip(source, span))
        default_span = named.get("defval") or (positional[0] if positional else None)
        title_span = named.get("title") or (positional[1] if len(positional) > 1 else None)
        if not kind and "type" in named:
            type_text = source[slice(*named["type"])].strip()
            kind = _OLD_TYPES.get(type_text.rsplit(".", 1)[-1], "")
        line_start = source.rfind("\n", 0, match.start()) + 1
        assigned = _ASSIGNED.search(mask[line_start:match.start()])
        yield InputCall(
            kind=kind,
            title=_string_value(source[slice(*title_span)]) if title_span else None,
            variable=assigned.group("name") if assigned else None,
            default_text=source[slice(*default_span)] if default_span else "",
            default_span=default_span,
            line=source.count("\n", 0, match.start()) + 1,
        )


def _kind_of(call: InputCall) -> str:
    """The input's kind, from its function, its `type=` or the shape of its default."""
    if call.kind:
        return call.kind
    text = call.default_text.strip()
    if text in ("true", "false"):
        return "bool"
    if _string_value(text) is not None:
        return "string"
    if re.fullmatch(r"[-+]?\d+", text):
        return "int"
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", text):
        return "float"
    return "source" if _IDENT.fullmatch(text) else "other"


def _float_text(value: float) -> str:
    """The shortest text that reads back as exactly this float, always with a decimal point
    (so a float input stays float in Pine)."""
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    text = repr(float(value))
    return text if any(c in text for c in ".eE") else text + ".0"


def _typed(kind: str, value: InputValue) -> InputValue:
    """Numbers and booleans given as text (a condition, a value typed on the command line)
    read as the kind the input declares; anything else is left for the checks below."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if kind == "bool" and text in ("true", "false"):
        return text == "true"
    if kind in ("int", "float", "price"):
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if kind == "int" and number.is_integer() else number
    return value


def pine_literal(kind: str, value: InputValue, original: str = "") -> str:
    """`value` written as Pine source for an input of `kind`; ValueError when it cannot be."""
    value = _typed(kind, value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not true or false")
        return "true" if value else "false"
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not float(value).is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return str(int(value))
    if kind in ("float", "price"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{value!r} is not a number")
        return _float_text(float(value))
    if kind in _TEXT_KINDS or (kind == "other" and isinstance(value, str)
                               and _string_value(original) is not None):
        quote = original.strip()[:1] if original.strip()[:1] in "\"'" else '"'
        escaped = str(value).replace("\\", "\\\\").replace(quote, "\\" + quote)
        return f"{quote}{escaped}{quote}"
    if kind == "source":
        if not isinstance(value, str) or not _IDENT.fullmatch(value):
            raise ValueError(f"{value!r} is not a price source such as close or hl2")
        return value
    raise ValueError(f"inputs of kind '{kind or 'unknown'}' cannot be set by tvdesk")


def _same(kind: str, text: str, value: InputValue) -> bool:
    """Whether the written default already is `value` (then its text is kept as written)."""
    value = _typed(kind, value)
    try:
        return pine_literal(kind, value, text) == text.strip() or (
            kind in ("int", "float", "price") and not isinstance(value, bool)
            and isinstance(value, (int, float)) and float(text) == float(value))
    except ValueError:
        return False


def set_input_defaults(source: str, values: Mapping[str, InputValue]) -> str:
    """`source` with the default of each input named in `values` (by title, or by variable
    name when the input has no title) replaced by its value. Raises PineError naming the input
    when one is missing, declared twice under that name, or cannot hold the value."""
    calls = list(input_calls(source))
    edits: list[tuple[tuple[int, int], str]] = []
    for key, value in values.items():
        found = [c for c in calls if c.title == key] or \
                [c for c in calls if c.title is None and c.variable == key] or \
                [c for c in calls if c.variable == key]
        if not found:
            raise PineError(f"input '{key}': no input() with that title or name in the script")
        if len(found) > 1:
            lines = ", ".join(str(c.line) for c in found)
            raise PineError(f"input '{key}': declared {len(found)} times (lines {lines}); "
                            "tvdesk cannot tell which one to set")
        call = found[0]
        if call.default_span is None:
            raise PineError(f"line {call.line}: input '{key}' has no default argument to set")
        kind = _kind_of(call)
        if _same(kind, call.default_text, value):
            continue
        try:
            edits.append((call.default_span, pine_literal(kind, value, call.default_text)))
        except ValueError as exc:
            raise PineError(f"line {call.line}: input '{key}': {exc}") from None
    for (start, end), text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    return source
