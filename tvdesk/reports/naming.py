"""Report file names: `<strategy>_<YYYYmmdd-HHMMSS>.<ext>` in the reports folder."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from tvdesk import paths

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_STEM = 60


def default_reports_dir() -> Path:
    """Where reports go unless a folder is given: `reports` in tvdesk's data folder."""
    return paths.data_dir() / "reports"


def safe_name(title: str) -> str:
    """A strategy title reduced to [A-Za-z0-9_-]: "SMA Cross (v2)" -> "SMA_Cross_v2"."""
    name = _UNSAFE.sub("_", title).strip("_-")
    return name[:MAX_STEM].rstrip("_-") or "strategy"


def timestamp(moment: datetime | None = None) -> str:
    """YYYYmmdd-HHMMSS of `moment` (now by default), in UTC when the time is aware."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y%m%d-%H%M%S}"


def report_base(title: str, moment: datetime | None = None) -> str:
    """The shared stem of one report's files: `SMA_Cross_20261124-130412`."""
    return f"{safe_name(title)}_{timestamp(moment)}"

