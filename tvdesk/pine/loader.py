"""Load a Pine strategy from a file or text, checked before any engine sees it.

Loading transpiles once (cached) so a syntax error, an unsupported feature or a refused
construct is reported with its Pine line before a worker process or a browser is started,
and so the strategy's inputs are known for `--input` validation and the GUI's form.
"""

from __future__ import annotations

from pathlib import Path

from tvdesk.errors import InputError, PineError
from tvdesk.model import Strategy
from tvdesk.pine.declarations import build_strategy
from tvdesk.pine.safety import RefusedScript
from tvdesk.pine.transpile import TranspileCache

_default_cache: TranspileCache | None = None


def _cache() -> TranspileCache:
    global _default_cache
    if _default_cache is None:
        _default_cache = TranspileCache()
    return _default_cache


def read_pine_file(path: str | Path) -> str:
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise InputError("no such Pine file", source=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read the Pine file: {exc.strerror}", source=str(path)) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start}); save the script as UTF-8",
                         source=str(path)) from None


def load_strategy_source(source: str, path: str | None = None,
                         cache: TranspileCache | None = None) -> Strategy:
    """Transpile (cached), safety-check and read the declarations of a Pine strategy."""
    try:
        transpiled = (cache or _cache()).get(source)
    except PineError as exc:
        if not path:
            raise
        located = (RefusedScript(f"{path}: {exc}", construct=exc.construct)
                   if isinstance(exc, RefusedScript)
                   else PineError(f"{path}: {exc}", feature=exc.feature))
        located.line = exc.line
        raise located from None
    return build_strategy(source, transpiled.python, path=path)


def load_strategy(path: str | Path, cache: TranspileCache | None = None) -> Strategy:
    return load_strategy_source(read_pine_file(path), path=str(path), cache=cache)
