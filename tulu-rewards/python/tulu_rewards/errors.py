"""The errors a user can cause and fix, each reported by a command as one line with exit code 2.

tulu_lightning builds its own errors (config, chat format, tracking) on `UserError` and re-exports these from
`tulu_lightning.errors`, so one `except UserError` serves both packages. A row whose answer or ground truth is
bad is never an error here: it is a verdict with status "error".
"""

from __future__ import annotations


class UserError(Exception):
    """Base class of every error the user can fix (bad data, options, paths); never a bug of ours."""


class DataError(UserError, ValueError):
    """Bad input data, named by file and line (or row)."""


class VerifierError(UserError, ValueError):
    """Misuse of the verifier API (an unknown verifier name, lengths that differ); `row` is the index of the
    row at fault, or None."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message if row is None else f"row {row}: {message}")
        self.message, self.row = message, row


class OutputError(UserError):
    """An output path that would overwrite an input, or an existing output without --overwrite."""


class CLIError(UserError):
    """Any other user error of a command (a missing file, a bad option value)."""


def one_line(err: BaseException) -> str:
    """The error's message on one line (a multi-line message's lines joined)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return "; ".join(lines) or type(err).__name__


__all__ = ["CLIError", "DataError", "OutputError", "UserError", "VerifierError", "one_line"]
