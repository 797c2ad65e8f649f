"""Pine → PyneCore Python, once per distinct source, cached on disk.

The offline transpiler (opencode-pine2pyne) takes milliseconds, but an optimisation re-runs the
same source thousands of times and several worker processes share it, so each distinct source
is transpiled once and written to `<cache>/transpiled/<hash>.py`, where any process can import
it. The hash covers the source and both tool versions: an upgrade never reuses stale output.
Every generated module passes the safety check before it is written.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tvdesk import paths
from tvdesk.errors import PineError
from tvdesk.fileio import write_text_atomically
from tvdesk.pine.safety import check_generated_code


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


TOOLCHAIN = f"pine2pyne-{_version('opencode-pine2pyne')}+pynecore-{_version('pynesys-pynecore')}"


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
    digest.update(pine_source.encode("utf-8"))
    return digest.hexdigest()[:32]


def transpile_source(pine_source: str) -> str:
    """Transpile Pine text to Python, turning every transpiler failure into a PineError."""
    import pine2pyne  # imported lazily: the CLI's --help should not pay for it

    if not pine_source.strip():
        raise PineError("the Pine script is empty")
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


class TranspileCache:
    """Disk cache of transpiled, safety-checked scripts shared by all worker processes."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or paths.cache_dir() / "transpiled"
        self._memo: dict[str, Transpiled] = {}

    def get(self, pine_source: str) -> Transpiled:
        key = source_hash(pine_source)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        path = self.root / f"s_{key}.py"
        if path.exists():
            python = path.read_text(encoding="utf-8")
        else:
            python = transpile_source(pine_source)
            check_generated_code(python)
            write_text_atomically(path, python)
        result = Transpiled(source_hash=key, path=path, python=python)
        self._memo[key] = result
        return result
