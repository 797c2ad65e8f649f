"""Pine → PyneCore Python, once per distinct source, cached on disk.

The offline transpiler (opencode-pine2pyne) takes milliseconds, but an optimisation re-runs the
same source thousands of times and several worker processes share it, so each distinct source
is transpiled once and written to `<cache>/transpiled/<hash>.py`, where any process can read
it. The hash covers the source, both tool versions and the safety check's version (its rules
and its allow-list): an upgrade never reuses stale output, and a tightened check re-checks.
Every generated module passes the safety check before it is written, and again each time it is
read back from disk: a cache file is a file anyone with access to the folder could have edited,
so it is never trusted for having been checked once.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tvdesk import paths
from tvdesk.errors import PineError
from tvdesk.fileio import write_text_atomically
from tvdesk.pine.safety import RefusedScript, check_generated_code, check_version

log = logging.getLogger(__name__)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


TOOLCHAIN = f"pine2pyne-{_version('opencode-pine2pyne')}+pynecore-{_version('pynesys-pynecore')}"
MAX_PINE_BYTES = 512 * 1024
"""The largest Pine source tvdesk transpiles. Real scripts stay under 200 KB; TradingView's own
editor refuses far less. A bigger text is refused before the transpiler reads it (it would
only cost memory and time)."""


@dataclass(frozen=True, slots=True)
class Transpiled:
    """A transpiled script on disk: the path PyneCore imports, and its Python text."""

    source_hash: str
    path: Path
    python: str


def source_hash(pine_source: str) -> str:
    """Hash of the exact source text (the normalised hash for duplicates lives elsewhere)."""
    digest = hashlib.sha256()
    digest.update(TOOLCHAIN.encode())
    digest.update(b"\0")
    digest.update(check_version().encode())
    digest.update(b"\0")
    digest.update(pine_source.encode("utf-8"))
    return digest.hexdigest()[:32]


def transpile_source(pine_source: str) -> str:
    """Transpile Pine text to Python, turning every transpiler failure into a PineError."""
    import pine2pyne  # imported lazily: the CLI's --help should not pay for it

    if not pine_source.strip():
        raise PineError("the Pine script is empty")
    size = len(pine_source.encode("utf-8"))
    if size > MAX_PINE_BYTES:
        raise RefusedScript(f"the Pine script is {size // 1024} KB; the local engine takes "
                            f"scripts up to {MAX_PINE_BYTES // 1024} KB", construct="size")
    try:
        with warnings.catch_warnings():
            # Semantic warnings are TradingView-accepted oddities; the script still runs.
            warnings.simplefilter("ignore", pine2pyne.SemanticWarning)
            python = pine2pyne.transpile(pine_source)
    except pine2pyne.UnsupportedFeatureError as exc:
        raise PineError(
            f"the local engine does not support {exc.feature}", line=exc.line or None,
            feature=exc.feature,
        ) from None
    except pine2pyne.Pine2PyneError as exc:
        raise PineError(exc.message, line=exc.line or None) from None
    except RecursionError:
        raise PineError("the script is nested too deeply to transpile") from None
    if not python.strip():
        raise PineError("the Pine script has no code (only comments)")
    if "@script.strategy" not in python:
        raise PineError(
            "this is not a strategy: the script must call strategy(...), not indicator(...) "
            "or library(...)", feature="non-strategy script",
        )
    return python


def _read_cached(path: Path) -> str | None:
    """The cached translation, or None when there is none (or it cannot be read: translate
    again and overwrite it)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


class TranspileCache:
    """Disk cache of transpiled, safety-checked scripts shared by all worker processes."""

    def __init__(self, root: Path | None = None, *, writable: bool = True) -> None:
        """`writable=False`: read the shared cache but never write it (a confined worker)."""
        self.root = root or paths.cache_dir() / "transpiled"
        self.writable = writable
        self._memo: dict[str, Transpiled] = {}

    def get(self, pine_source: str) -> Transpiled:
        key = source_hash(pine_source)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        path = self.root / f"s_{key}.py"
        python = _read_cached(path)
        if python is not None:
            try:
                check_generated_code(python, pine_source)
            except PineError as exc:
                raise RefusedScript(f"the cached translation {path} fails the safety check "
                                    f"and was not run; delete it to translate the script "
                                    f"again ({exc})", construct="tampered cache") from None
        else:
            python = transpile_source(pine_source)
            check_generated_code(python, pine_source)
            if self.writable:
                try:
                    write_text_atomically(path, python)
                except OSError as exc:  # a full disk or read-only cache: translate next time
                    log.warning("could not keep the translation in the cache (%s): %s",
                                path, exc.strerror or exc)
        result = Transpiled(source_hash=key, path=path, python=python)
        self._memo[key] = result
        return result
