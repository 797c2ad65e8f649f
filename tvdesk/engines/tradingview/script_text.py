"""Small text jobs on the script and the request before they go to TradingView."""

from __future__ import annotations

import re
import secrets

from tvdesk.errors import InputError

_STRATEGY_CALL = re.compile(r"^[ \t]*strategy[ \t]*\(", re.MULTILINE)
_SHORT_TITLE = re.compile(r"""shorttitle\s*=\s*(["'])((?:\\.|(?!\1).)*)\1""")
_STATEMENT_END = re.compile(r"\n(?=\S)")  # Pine continues a statement on indented lines
_TITLE = re.compile(r"""\s*(?:title\s*=\s*)?(["'])((?:\\.|(?!\1).)*)\1""")


def new_token() -> str:
    """A short marker unique to one load of a script (`tvd` + 6 hex digits)."""
    return f"tvd{secrets.token_hex(3)}"


def tag_title(source: str, token: str) -> tuple[str, str]:
    """The source with ` [token]` appended to the strategy() title, and the tagged title.

    The token is how a report is recognised as this run's and not the previous one's; it is
    added inside the title string, on the same line, so TradingView's error lines still match
    the user's file.
    """
    call = _STRATEGY_CALL.search(source)
    if call is None:
        raise InputError("the script has no strategy(...) declaration; TradingView's Strategy "
                         "report needs a strategy script", source="--script")
    match = _TITLE.match(source, call.end())
    if match is None:
        raise InputError("the strategy(...) declaration has no title string as its first "
                         "argument (or title=...)", source="--script")
    quote, title = match.group(1), match.group(2)
    tagged = f"{title} [{token}]"
    start, end = match.span(2)
    out = source[:start] + tagged + source[end:]
    # The chart legend shows the short title when there is one: tag it too.
    statement_end = _STATEMENT_END.search(out, call.end())
    stop = statement_end.start() if statement_end else len(out)
    short = _SHORT_TITLE.search(out, call.end(), stop)
    if short is not None:
        s_start, s_end = short.span(2)
        out = out[:s_start] + f"{short.group(2)} [{token}]" + out[s_end:]
    return out, tagged.replace(f"\\{quote}", quote)


def tv_interval(timeframe: str) -> str:
    """What to type in TradingView's interval box: minutes as a number, else 1D/1W/1M/1S."""
    text = timeframe.strip()
    match = re.fullmatch(r"(\d*)\s*([A-Za-z]*)", text)
    if not match or not text:
        raise InputError(f"expected a timeframe such as 15, 1h, 4h, 1D or 1W, got {timeframe!r}",
                         source="--timeframe")
    count = int(match.group(1) or 1)
    unit = match.group(2)
    if unit in ("", "m", "min", "minute", "minutes"):
        return str(count)
    folded = unit.casefold()
    if folded in ("h", "hr", "hour", "hours"):
        return str(count * 60)
    if folded in ("d", "day", "days"):
        return f"{count}D"
    if folded in ("w", "wk", "week", "weeks"):
        return f"{count}W"
    if unit == "M" or folded in ("mo", "month", "months"):
        return f"{count}M"
    if folded in ("s", "sec", "second", "seconds"):
        return f"{count}S"
    raise InputError(f"expected a timeframe such as 15, 1h, 4h, 1D or 1W, got {timeframe!r}",
                     source="--timeframe")


def input_text(value: object) -> str:
    """An input value as typed in TradingView's settings dialog."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def same_code(a: str, b: str) -> bool:
    """Equal ignoring line endings and trailing spaces (what editors may change)."""
    def norm(text: str) -> list[str]:
        return [line.rstrip() for line in text.replace("\r\n", "\n").strip("\n").split("\n")]

    return norm(a) == norm(b)
