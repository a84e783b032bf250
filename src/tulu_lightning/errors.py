"""The errors a user can cause and fix: each is reported by the CLI as one line, with exit code 2.

Anything else that escapes a command is a bug in tulu_lightning and is shown with its traceback. Every error
names what to fix: the file and line or row, or the dotted config key.
"""

from __future__ import annotations


class UserError(Exception):
    """Base class of every error the user can fix (bad config, data, paths); never a bug of ours."""


class ConfigError(UserError, ValueError):
    """A bad config value, named by its dotted key and the file it came from."""


class DataError(UserError, ValueError):
    """Bad training or evaluation data, named by file and line (or row)."""


class ChatFormatError(DataError):
    """A conversation that cannot be rendered with the chat template."""


class VerifierError(UserError, ValueError):
    """Misuse of the verifier API (an unknown verifier name, lengths that differ); `row` is the index of the
    row at fault, or None. A row whose answer or ground truth is bad is never an error: it is a verdict."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message if row is None else f"row {row}: {message}")
        self.message, self.row = message, row


class OutputError(UserError):
    """An output path that would overwrite an input, or a non-empty output directory without --overwrite."""


class TrackingError(UserError):
    """The MLflow tracking store cannot be reached or used."""


class CLIError(UserError):
    """Any other user error of a command (a missing file, a bad option value)."""


__all__ = [
    "CLIError",
    "ChatFormatError",
    "ConfigError",
    "DataError",
    "OutputError",
    "TrackingError",
    "UserError",
    "VerifierError",
]
