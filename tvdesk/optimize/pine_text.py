"""Pine text as the LLM optimiser sees it: pull a script out of a reply, tell duplicates apart.

An LLM answers in prose with a fenced block (or several, or none), so the loop needs one rule
for "which text is the script" and "what did the assistant say about it". And an LLM often
returns the same strategy with reworded comments or re-spaced code; such a reply must not
cost a backtest or count as a new behaviour, so duplicates are judged on a normalised text in
which comments and spacing do not exist. Everything here is pure text processing.
"""

from __future__ import annotations

import hashlib
import re

DEFAULT_VERSION_LINE = "//@version=6"
MAX_COMMENT_CHARS = 1500

_VERSION_LINE = re.compile(r"^[ \t]*//@version[ \t]*=[ \t]*\d+", re.MULTILINE)
_STRATEGY_CALL = re.compile(r"\bstrategy[ \t]*\(")
_STRATEGY_LINE = re.compile(r"^[ \t]*strategy[ \t]*\(", re.MULTILINE)
_THINK = re.compile(r"<think(?:ing)?>.*?(?:</think(?:ing)?>|\Z)", re.DOTALL | re.IGNORECASE)
# A fence opens on its own line with 3+ backticks and an optional tag, and closes on a line
# holding the same run of backticks; a reply cut off mid-block has no closing fence.
_FENCE = re.compile(
    r"^[ \t]*(?P<ticks>`{3,})[ \t]*(?P<tag>[\w+#.-]*)[^\n]*\n(?P<body>.*?)"
    r"(?:^[ \t]*(?P=ticks)[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)
_PINE_TAGS = frozenset({"pine", "pinescript", "pine-script", "pine_script", "pinescript6",
                        "pinescriptv6", "pine6", "pinev6"})
_WORD_CHAR = re.compile(r"[\w.]")


# --------------------------------------------------------------------------- duplicates


def _strip_comment_and_split(line: str) -> list[tuple[bool, str]]:
    """Split one line into (is_string, text) pieces, dropping a `//` comment outside strings."""
    pieces: list[tuple[bool, str]] = []
    code_start = 0
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if ch in "\"'":
            if i > code_start:
                pieces.append((False, line[code_start:i]))
            j = i + 1
            while j < n and line[j] != ch:
                j += 2 if line[j] == "\\" else 1
            end = min(j + 1, n)
            pieces.append((True, line[i:end]))
            i = code_start = end
            continue
        if line.startswith("//", i):
            n = i
            break
        i += 1
    if n > code_start:
        pieces.append((False, line[code_start:n]))
    return pieces


def _join_tokens(tokens: list[str]) -> str:
    """Join tokens with a space only where two word characters would otherwise touch, so
    `a+b`, `a + b` and `a  +  b` all read `a+b` while `not x` stays two words."""
    out = ""
    for token in tokens:
        if out and _WORD_CHAR.match(out[-1]) and _WORD_CHAR.match(token[0]):
            out += " "
        out += token
    return out


def _normalize_line(line: str) -> tuple[int, str]:
    """(indent width, normalised text) of one line; text is empty for a blank/comment line."""
    expanded = line.expandtabs(4)
    indent = len(expanded) - len(expanded.lstrip(" "))
    if _VERSION_LINE.match(line):  # a compiler annotation, not a comment: it changes semantics
        return indent, re.sub(r"\s+", "", line)
    tokens: list[str] = []
    for is_string, piece in _strip_comment_and_split(line.strip()):
        if is_string:
            tokens.append(piece)
        else:
            tokens.extend(piece.split())
    return indent, _join_tokens(tokens)


def normalized_source(pine: str) -> str:
    """The script with comments, blank lines and cosmetic spacing removed.

    Kept: string literals verbatim, the `//@version=` line, and block indentation (a multiple
    of 4 columns, tabs counting 4), because Pine's blocks are made of it. A line indented by
    anything else is a wrapped continuation of the previous line and is joined to it, so
    re-wrapping a long call is cosmetic too.
    """
    lines: list[str] = []
    for raw in pine.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        indent, text = _normalize_line(raw)
        if not text:
            continue
        if indent % 4 and lines:
            lines[-1] = _join_tokens([lines[-1], text])
        else:
            lines.append(" " * indent + text)
    return "\n".join(lines)


def normalized_hash(pine: str) -> str:
    """sha256 (hex, first 32 digits) of `normalized_source`: equal for cosmetic edits."""
    return hashlib.sha256(normalized_source(pine).encode("utf-8")).hexdigest()[:32]


# --------------------------------------------------------------------------- replies


def _without_thinking(reply: str) -> str:
    """Drop `<think>` sections some models emit: drafts in them are not the answer."""
    return _THINK.sub("", reply)


def _ensure_version(code: str) -> str:
    code = code.strip("\n").rstrip() + "\n"
    if not _VERSION_LINE.search(code):
        code = DEFAULT_VERSION_LINE + "\n" + code
    return code


def extract_pine(reply: str) -> str | None:
    """The one complete Pine script in an LLM reply, or None when the reply holds none.

    Order of preference: fenced blocks tagged pine/pinescript that call `strategy(`; then any
    fenced block that calls `strategy(`; among several, the longest wins (models put the full
    script in the longest block and snippets or diffs in short ones). Without a usable block,
    the reply itself counts when it is a bare script: from its `//@version` line on, or whole
    when it has a `strategy(` line. A `//@version=6` line is added when missing.
    """
    text = _without_thinking(reply)
    blocks = [(m.group("tag").lower(), m.group("body")) for m in _FENCE.finditer(text)]
    tagged = [body for tag, body in blocks if tag in _PINE_TAGS and _STRATEGY_CALL.search(body)]
    any_block = [body for _tag, body in blocks if _STRATEGY_CALL.search(body)]
    for candidates in (tagged, any_block):
        if candidates:
            return _ensure_version(max(candidates, key=len))
    if blocks:
        return None  # code blocks, but none is a strategy: snippets or another language
    version = _VERSION_LINE.search(text)
    if version:
        return _ensure_version(text[version.start():])
    if _STRATEGY_LINE.search(text):
        return _ensure_version(text)
    return None


def comment_of(reply: str) -> str:
    """The assistant's prose around its code, trimmed to MAX_COMMENT_CHARS.

    The next prompt quotes it as "your previous comment" so the model remembers its intent
    without being fed its own code twice.
    """
    text = _without_thinking(reply)
    if _FENCE.search(text):
        text = _FENCE.sub("\n", text)
    else:
        version = _VERSION_LINE.search(text)
        if version:  # a bare script: the prose is what comes before it
            text = text[:version.start()]
        elif _STRATEGY_LINE.search(text):
            text = ""
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(text) > MAX_COMMENT_CHARS:
        text = text[:MAX_COMMENT_CHARS - 1].rstrip() + "…"
    return text
