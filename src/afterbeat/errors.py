"""The afterbeat error family: one base, narrow subclasses, advice in the message."""

from __future__ import annotations


class AfterbeatError(Exception):
    """Base class of every error afterbeat raises on purpose."""


class MalformedMeasurement(AfterbeatError, ValueError):
    """A Bluetooth payload that does not follow its characteristic's format."""


class SessionFileError(AfterbeatError, ValueError):
    """A session or RR file that cannot be read; the message names the file and line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


class AmbiguousUnit(SessionFileError):
    """RR values whose unit (ms or s) cannot be told apart; pass ``--unit``."""


class UnsupportedFormat(SessionFileError):
    """A file whose format afterbeat does not recognise."""


class InvalidValue(AfterbeatError, ValueError):
    """A time, number or text outside what afterbeat accepts; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class DataDirError(AfterbeatError, OSError):
    """The data directory cannot be created or is not private."""
