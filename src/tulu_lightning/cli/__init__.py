"""Command line: `python -m tulu_lightning <command> ...`.

Each command is one module of this package, `tulu_lightning.cli.<command>`, exposing `configure_parser(parser)`
and `run(args) -> int`. A command module is light at import (its options only); the library modules it drives
(torch, Lightning, lm-eval) are imported inside `run`, so `--help` answers without importing torch.
"""

from __future__ import annotations

import argparse
import importlib

from tulu_rewards.cli import run_command

from tulu_lightning.errors import CLIError

BUG_HINT = (
    "this is a bug in tulu_lightning, not a problem with your input: please report it with the command line "
    "and the traceback above"
)

# command name -> one-line help; its module is `tulu_lightning.cli.<name>`
COMMANDS: dict[str, str] = {
    "fit": "train a model: SFT, DPO, reward model, RLVR, prompt tuning",
    "check": "validate every row of a fit config's data (no model): file:row: problem",
    "prepare": "validate and tokenize a fit config's data once into Arrow files (reused by every later fit)",
    "eval": "Tülu 3's dev and unseen benchmark suites (lm-evaluation-harness)",
    "export": "export a training checkpoint to a Hugging Face model directory",
    "decontaminate": "n-gram decontamination of training data vs benchmarks",
    "verify": "score a JSONL file of responses with a reward verifier",
    "waywardness": "prompt waywardness sweep: target texts × γ × seeds",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tulu_lightning", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        command_parser.set_defaults(_module=command_module(name))
        importlib.import_module(command_module(name)).configure_parser(command_parser)
    return parser


def command_module(name: str) -> str:
    """The module that implements command `name`."""
    return f"{__name__}.{name}"


def main(argv: list[str] | None = None) -> int:
    """Run a command. A user error (`UserError`: config, data, chat format, verifier input, files, tracking) is
    one line on stderr and exit code 2; anything else is our bug: its traceback, a hint to report it, code 1."""
    args = build_parser().parse_args(argv)
    return run_command(lambda: importlib.import_module(args._module).run(args), BUG_HINT)


__all__ = ["COMMANDS", "CLIError", "build_parser", "command_module", "main"]
