"""The log file a user can send with a bug report: rotating, in the user log folder, with
every stored secret masked.

Secrets live in the keyring, but a message (an exception text from a site, an HTTP error
echoing a header) might still carry one; the handler's filter replaces every stored secret with
`****` before a line reaches the file. The list of secrets is read once at start-up and again
whenever credentials change (`refresh_secrets`), not for every line.
"""

from __future__ import annotations

import contextlib
import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from tvdesk import paths

LOG_FILE = "tvdesk.log"
_secrets: list[str] = []


def refresh_secrets() -> None:
    """Reload the stored secrets to mask (call after credentials change)."""
    from tvdesk.secrets import known_secrets

    _secrets[:] = sorted(known_secrets(), key=len, reverse=True)


class SecretMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from tvdesk.secrets import mask

        message = record.getMessage()
        masked = mask(message, _secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text, _secrets)
        if masked != message or record.args:
            record.msg, record.args = masked, ()
        return True


class _LogFileHandler(RotatingFileHandler):
    """The log file, which must never be the reason a command fails: when it cannot be
    written (a full disk, a read-only folder) its records are dropped, without the traceback
    `logging` would print on stderr for every one of them."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def setup_logging(level: int = logging.INFO) -> Path:
    """Send tvdesk's log records to `<user log folder>/tvdesk.log` (2 MB × 5 files)."""
    folder = paths.log_dir()
    with contextlib.suppress(OSError):  # no log folder: records are dropped (see handler)
        folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    root = logging.getLogger()
    if not any(isinstance(h, RotatingFileHandler) and Path(h.baseFilename) == path
               for h in root.handlers):
        handler = _LogFileHandler(path, maxBytes=2_000_000, backupCount=5,
                                  encoding="utf-8", delay=True)
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(SecretMaskingFilter())
        root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    try:
        refresh_secrets()
    except Exception:  # a broken keyring must not stop the program from logging
        _secrets.clear()
    return path
