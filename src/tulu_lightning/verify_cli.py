"""`python -m tulu_lightning verify`: score a JSONL file of responses with a verifier — the `tulu-rewards verify`
command of the tulu-rewards package, with its user errors raised as tulu_lightning's `CLIError`."""

from __future__ import annotations

import argparse

from tulu_rewards import cli as rewards_cli

from tulu_lightning.cli import CLIError


def configure_parser(parser: argparse.ArgumentParser) -> None:
    rewards_cli.configure_verify_parser(parser)


def run(args: argparse.Namespace) -> int:
    try:
        return rewards_cli.run_verify(args)
    except rewards_cli.CLIError as err:
        raise CLIError(str(err)) from None
