"""Errors a user can act on, each with the exit code of the machine interface.

0 success, 1 the run failed, 2 bad usage or bad input. Every message names the file, line or
field at fault and what was expected, so the CLI prints it as is and the GUI shows it inline.
"""

from __future__ import annotations


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
                 column: str | None = None) -> None:
        self.source = source
        self.line = line
        self.column = column
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

    `line` is the Pine source line where known. A Pine error is a property of the script, not
    of the tool, so it exits 1 like a failed run (TradingView's compile errors do too).
    """

    def __init__(self, message: str, *, line: int | None = None,
                 feature: str | None = None) -> None:
        self.line = line
        self.feature = feature
        prefix = f"Pine line {line}: " if line else ""
        super().__init__(prefix + message)


class EngineError(TvdeskError):
    """The engine failed while running a valid request (runtime error in the script, crash)."""


class Cancelled(TvdeskError):
    """The user (or a limit) cancelled the work; whatever finished before is kept."""
