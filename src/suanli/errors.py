"""Typed errors a user can cause.

Every error here is rendered as one clear line by the CLI (exit code 2) and as a
4xx JSON error by the API.  Anything else escaping the library is a bug.
"""

from __future__ import annotations


class SuanliError(Exception):
    """Base class of all user-facing errors."""

    code = "suanli_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:  # one line, always
        return " ".join(self.message.split())


class UnknownHardware(SuanliError):
    code = "unknown_hardware"


class UnknownModel(SuanliError):
    code = "unknown_model"


class UnknownSystem(SuanliError):
    code = "unknown_system"


class ConfigError(SuanliError):
    """A malformed data or config file (names the file and the field)."""

    code = "config_error"


class UnsupportedArchitecture(ConfigError):
    """A model config that parses but uses a feature the engine does not model (names the
    ``model_type`` and the field), instead of a silent dense approximation."""

    code = "unsupported_architecture"


class InvalidInput(SuanliError):
    """An argument out of range (negative length, TP not dividing heads, ...)."""

    code = "invalid_input"


class InsufficientMemory(SuanliError):
    """The deployment does not fit in accelerator memory."""

    code = "insufficient_memory"


class UnsupportedDType(SuanliError):
    code = "unsupported_dtype"


class MissingSpec(SuanliError):
    """The catalog lacks a value the prediction needs (e.g. no bandwidth published)."""

    code = "missing_spec"


class OutputError(SuanliError):
    """An output file cannot be written (disk full, no permission, read-only file system);
    the file that was there is left as it was."""

    code = "output_error"
