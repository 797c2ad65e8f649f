"""Read a strategy's title and inputs straight from Pine text, without transpiling.

For scripts the local transpiler cannot handle but TradingView can: the TradingView engine
still needs the inputs' titles and types to set them in the settings dialog, and TradingView
itself reports any real compile error. Plain `name = input.<kind>(default, "Title", ...)`
declarations are read; anything fancier is left to TradingView's defaults.
"""

from __future__ import annotations

import re

from tvdesk.model import InputSpec, InputValue, Strategy

_TITLE = re.compile(r"""^[ \t]*strategy\s*\(\s*(?:title\s*=\s*)?["']([^"']*)["']""",
                    re.MULTILINE)
_INPUT = re.compile(
    r"""^[ \t]*(?:(?:var|varip|int|float|bool|string)\s+)*(?P<name>[A-Za-z_]\w*)\s*=\s*"""
    r"""input(?:\.(?P<kind>int|float|bool|string|source|price|timeframe|session|symbol))?"""
    r"""\s*\(\s*(?:defval\s*=\s*)?(?P<default>"[^"]*"|'[^']*'|[^,)]+?)\s*,\s*"""
    r"""(?:title\s*=\s*)?["'](?P<title>[^"']+)["']""",
    re.MULTILINE)


def _default(kind: str, text: str) -> InputValue | None:
    text = text.strip()
    if text[:1] in "\"'":
        return text[1:-1]
    if kind == "bool" or text in ("true", "false"):
        return text == "true"
    try:
        number = float(text)
    except ValueError:
        return None if kind != "source" else text
    return int(number) if kind == "int" or (kind == "" and number.is_integer()) else number


def strategy_from_text(source: str, path: str | None = None) -> Strategy:
    title_match = _TITLE.search(source)
    inputs: list[InputSpec] = []
    for match in _INPUT.finditer(source):
        kind = match.group("kind") or ""
        default = _default(kind, match.group("default"))
        resolved = kind or ("bool" if isinstance(default, bool) else
                            "int" if isinstance(default, int) else
                            "float" if isinstance(default, float) else "string")
        inputs.append(InputSpec(name=match.group("name"), title=match.group("title"),
                                kind=resolved, default=default))  # type: ignore[arg-type]
    return Strategy(source=source, title=title_match.group(1) if title_match else "",
                    path=path, inputs=tuple(inputs))
