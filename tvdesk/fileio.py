"""Atomic file writes: a crash never leaves half a file (result, report, cached script).

Everything tvdesk writes for later reading goes through here: write to a temporary file in
the same folder, then rename over the target, which readers see as all or nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_text_atomically(path: str | Path, text: str) -> Path:
    return write_bytes_atomically(path, text.encode("utf-8"))


def write_json_atomically(path: str | Path, document: Any) -> Path:
    return write_text_atomically(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def write_bytes_atomically(path: str | Path, data: bytes) -> Path:
    """Write `data` to a temp file beside `path`, then rename it over `path`.

    A failure (a full disk, no permission) is an OSError that names `path`, so whoever
    reports it can say which file could not be written (a write to an open file knows no name).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise _naming(exc, target) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _naming(exc, target) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _naming(exc: OSError, target: Path) -> OSError:
    """`exc` with the file it was about, when it had none (or only the hidden temp file)."""
    if exc.errno is None:  # not from the system (no errno to rebuild it with): as it is
        return exc
    if exc.filename is None or Path(str(exc.filename)).name.startswith(f".{target.name}."):
        return type(exc)(exc.errno, exc.strerror, str(target))
    return exc
