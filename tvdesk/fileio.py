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
    """Write `data` to a temp file beside `path`, then rename it over `path`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
