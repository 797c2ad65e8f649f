"""Errors a user can act on, each with the exit code of the machine interface.

0 success; 1 a run that failed for another reason (environment, engine crash, a runtime error
of a valid script); 2 anything wrong with what the user gave (data, Pine script, exports,
config, flags, inputs). Every message names the file, line or field at fault and what was
expected, so the CLI prints it as is and the GUI shows it inline.
"""

from __future__ import annotations

import errno


def _rebuild(cls: type[TvdeskError], args: tuple[object, ...],
             state: dict[str, object]) -> TvdeskError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class TvdeskError(Exception):
    """Base of every error tvdesk reports to a user instead of a traceback."""

    exit_code = 1

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross process boundaries (worker pool): keep the message and the named
        # fields (source, line, feature) instead of re-running __init__ on the message.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class InputError(TvdeskError):
    """Bad usage or bad input: a file, a flag, a config key or a Pine input is wrong."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 column: str | None = None, key: str | None = None) -> None:
        self.source = source
        self.line = line
        self.column = column
        # Which entry of the field `source` names is at fault (a search range's input title,
        # a strategy() setting's name), for a form to mark that entry; not part of the text.
        self.key = key
        where = ""
        if source:
            where = source
            if line is not None:
                where += f", line {line}"
            if column:
                where += f", column {column!r}"
            where += ": "
        super().__init__(where + message)


class DataError(InputError):
    """Market data that cannot be backtested (unsorted, duplicate bars, bad prices)."""


class ConfigError(InputError):
    """A settings or profile file that does not say what tvdesk expects."""


class PineError(TvdeskError):
    """A Pine script the engine cannot run: syntax, unsupported feature, refused construct.

    `line` is the Pine source line where known. The script is what the user gave, and only
    they can fix it, so it is bad input and exits 2 like a bad flag or bad data (TradingView's
    compile errors too). A valid script that fails while it runs is an EngineError (exit 1).
    """

    exit_code = 2

    def __init__(self, message: str, *, line: int | None = None,
                 feature: str | None = None) -> None:
        self.line = line
        self.feature = feature
        prefix = f"Pine line {line}: " if line else ""
        super().__init__(prefix + message)


class EngineError(TvdeskError):
    """The engine failed while running a valid request (runtime error in the script, crash).

    Exits 1: the input passed every check, so the run failed rather than the input being bad.
    """


class FileVanished(TvdeskError):
    """A file the whole run depends on (its market data) was deleted or moved while it ran:
    every further trial would fail the same way, so the run stops at once (exit 1) and says
    how to continue once the file is back."""


class Cancelled(TvdeskError):
    """The user (or a limit) cancelled the work; whatever finished before is kept."""


_OS_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space and run the command again (what was "
                  "saved before is kept)",
    errno.EDQUOT: "the disk quota is used up: free some space and run the command again",
    errno.EACCES: "permission denied: check the permissions, or choose another place",
    errno.EPERM: "not permitted: check the permissions, or choose another place",
    errno.EROFS: "the file system is read-only: choose a writable place",
    errno.ENOENT: "no such file or folder (was it moved or deleted?)",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a folder; a file was expected there",
    errno.EEXIST: "already exists and is in the way",
    errno.EIO: "the disk failed (removed? a network share that dropped?): check it and try "
               "again",
}


def os_error_message(exc: OSError) -> str:
    """A failed file operation in words a user can act on: which file, what went wrong, and
    what to do; used where no closer handler knew the file's role."""
    where = exc.filename if exc.filename is not None else "a file"
    advice = _OS_ADVICE.get(exc.errno or 0, exc.strerror or str(exc))
    return f"{where}: {advice}"
