"""The errors a user can cause and fix: each is reported by the CLI as one line, with exit code 2.

Anything else that escapes a command is a bug in tulu_lightning and is shown with its traceback. Every error
names what to fix: the file and line or row, or the dotted config key. The base class and the errors of data,
verifiers, outputs and commands are tulu-rewards' (`tulu_rewards.errors`), so its `verify` command and
tulu_lightning's share one error path.
"""

from __future__ import annotations

from tulu_rewards.errors import CLIError, DataError, OutputError, UserError, VerifierError, one_line


class ConfigError(UserError, ValueError):
    """A bad config value, named by its dotted key and the file it came from."""


class ChatFormatError(DataError):
    """A conversation that cannot be rendered with the chat template."""


class TrackingError(UserError):
    """The MLflow tracking store cannot be reached or used."""


__all__ = [
    "CLIError",
    "ChatFormatError",
    "ConfigError",
    "DataError",
    "OutputError",
    "TrackingError",
    "UserError",
    "VerifierError",
    "one_line",
]
