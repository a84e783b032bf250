"""Command line: `python -m tulu_lightning <command> ...`.

Each command lives in its own module exposing `configure_parser(parser)` and `run(args) -> int`; the module
is imported only when its command runs, so `--help` answers without importing torch.
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

# command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "fit": ("tulu_lightning.train", "train a model: SFT, DPO, reward model, RLVR, prompt tuning"),
    "recipe": (
        "tulu_lightning.recipe",
        "the Tülu 3 pipeline as one run: SFT → DPO → RLVR → eval, resumable by stage",
    ),
    "check": (
        "tulu_lightning.check",
        "validate every row of a fit config's data (no model): file:row: problem",
    ),
    "prepare": (
        "tulu_lightning.prepare_cli",
        "validate and tokenize a fit config's data once into Arrow files (reused by every later fit)",
    ),
    "eval": ("tulu_lightning.eval_cli", "Tülu 3's dev and unseen benchmark suites (lm-evaluation-harness)"),
    "export": ("tulu_lightning.export", "export a training checkpoint to a Hugging Face model directory"),
    "decontaminate": ("tulu_lightning.decontam_cli", "n-gram decontamination of training data vs benchmarks"),
    "verify": ("tulu_lightning.verify_cli", "score a JSONL file of responses with a reward verifier"),
    "waywardness": ("tulu_lightning.waywardness_cli", "prompt waywardness sweep: target texts × γ × seeds"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tulu_lightning", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        command_parser.set_defaults(_module=module_name)
        # Parser options are declared in a light `<module>_args` sibling when the module itself is heavy.
        _options_module(module_name).configure_parser(command_parser)
    return parser


def _options_module(module_name: str):
    try:
        return importlib.import_module(module_name + "_args")
    except ModuleNotFoundError as err:
        if err.name != module_name + "_args":
            raise
        return importlib.import_module(module_name)


def main(argv: list[str] | None = None) -> int:
    """Run a command. A user error (`UserError`: config, data, chat format, verifier input, files, tracking) is
    one line on stderr and exit code 2; anything else is our bug: its traceback, a hint to report it, code 1."""
    args = build_parser().parse_args(argv)
    return run_command(lambda: importlib.import_module(args._module).run(args), BUG_HINT)


__all__ = ["CLIError", "build_parser", "main"]
