"""Command line: `python -m tulu_lightning <command> ...`.

Each command is one module of this package, `tulu_lightning.cli.<command>`, exposing `configure_parser(parser)`
and `run(args) -> int`. A command module is light at import (its options only); the library modules it drives
(torch, Lightning, lm-eval) are imported inside `run`, so `--help` answers without importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tulu_rewards.cli import run_command

from tulu_lightning.errors import CLIError

BUG_HINT = (
    "this is a bug in tulu_lightning, not a problem with your input: please report it with the command line "
    "and the traceback above"
)

# command name -> one-line help; its module is `tulu_lightning.cli.<name>`
COMMANDS: dict[str, str] = {
    "fit": "train a model: SFT, DPO, reward model, RLVR, prompt tuning",
    "recipe": "the Tülu 3 pipeline as one run: SFT → DPO → RLVR → eval, resumable by stage",
    "check": "validate every row of a fit config's data (no model): file:row: problem",
    "prepare": "validate and tokenize a fit config's data once into Arrow files (reused by every later fit)",
    "eval": "Tülu 3's dev and unseen benchmark suites (lm-evaluation-harness)",
    "export": "export a training checkpoint to a Hugging Face model directory",
    "decontaminate": "n-gram decontamination of training data vs benchmarks",
    "verify": "score a JSONL file of responses with a reward verifier",
    "waywardness": "prompt waywardness sweep: target texts × γ × seeds",
    "configs": "the bundled configs: list, copy one to edit, show every field of a config",
}
ALIASES = {"configs": ["config"]}  # `config show sft` reads as well as `configs show sft`
HELP_FLAGS = ("-h", "--help")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tulu_lightning", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        command_parser = sub.add_parser(
            name, help=help_text, description=help_text, aliases=ALIASES.get(name, [])
        )
        command_parser.set_defaults(_module=command_module(name), _parser=command_parser)
        module = importlib.import_module(command_module(name))
        module.configure_parser(command_parser)
        if hasattr(module, "describe_config"):
            command_parser.epilog = (
                f"`{name} --help --config FILE` also lists every field of FILE's config: its type, default, "
                "value in FILE and what it does (`configs show NAME` for any config)."
            )
    return parser


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    from tulu_lightning import __version__

    try:
        rewards = dist_version("tulu-rewards")
    except PackageNotFoundError:
        rewards = "not installed"
    python = ".".join(map(str, sys.version_info[:3]))
    return f"tulu_lightning {__version__} (tulu-rewards {rewards}, Python {python})"


def command_module(name: str) -> str:
    """The module that implements command `name`."""
    return f"{__name__}.{name}"


def main(argv: list[str] | None = None) -> int:
    """Run a command. A user error (`UserError`: config, data, chat format, verifier input, files, tracking) is
    one line on stderr and exit code 2; anything else is our bug: its traceback, a hint to report it, code 1."""
    argv = [str(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    parser = build_parser()
    if any(arg in HELP_FLAGS for arg in argv) and any(a.split("=")[0] == "--config" for a in argv):
        return run_command(lambda: help_with_config(parser, argv), BUG_HINT)
    args = parser.parse_args(argv)
    return run_command(lambda: importlib.import_module(args._module).run(args), BUG_HINT)


def help_with_config(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    """`<command> --help --config FILE`: the command's help, then every field of FILE's config (type, default,
    value in FILE, comment), for the commands whose module has `describe_config(args)`."""
    args, _ = parser.parse_known_args([arg for arg in argv if arg not in HELP_FLAGS])
    module = importlib.import_module(args._module)
    if not hasattr(module, "describe_config") or not getattr(args, "config", None):
        parser.parse_args(argv)  # the command's own help (exits)
    args._parser.print_help()
    print()
    print(module.describe_config(args), end="")
    return 0


__all__ = ["COMMANDS", "CLIError", "build_parser", "command_module", "main", "version"]
