"""Command line: `tulu-rewards verify ...` (score a JSONL file) and `tulu-rewards serve ...` (OpenRLHF's
remote reward server). Standard library only; `python -m tulu_lightning verify` is the same command.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tulu_rewards.errors import CLIError, UserError, one_line
from tulu_rewards.files import atomic_open, check_outputs, iter_jsonl, prepare_output_file

BUG_HINT = (
    "this is a bug in tulu-rewards, not a problem with your input: please report it with the command line "
    "and the traceback above"
)

# --- verify ---------------------------------------------------------------------------------------------


def configure_verify_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, type=Path, help="JSONL file, one response per line")
    parser.add_argument("--verifier", help="verifier for every line (default: each line's --verifier-field)")
    parser.add_argument("--output", type=Path, help="per-line verdicts (default: <input>.verdicts.jsonl)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    parser.add_argument("--mode", default="strict", choices=["strict", "loose", "flex"])
    parser.add_argument("--partial", action="store_true", help="IFEval: score the fraction of constraints")
    parser.add_argument("--response-field", default="response")
    parser.add_argument("--ground-truth-field", default="ground_truth")
    parser.add_argument("--verifier-field", default="dataset")
    parser.add_argument(
        "--prompt-field", help="field holding the prompt (answers copied from it don't count)"
    )


def field(row: dict, name: str, where: str) -> str:
    if name not in row:
        raise CLIError(f"{where}: missing field {name!r} (fields: {sorted(row)})")
    value = row[name]
    # IFEval ground truths may be stored as JSON objects rather than JSON strings.
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def run_verify(args: argparse.Namespace) -> int:
    from tulu_rewards.verifiers import VerifierError, verify_batch

    if not args.input.is_file():
        raise CLIError(f"--input {args.input}: no such file")
    output = args.output or args.input.with_suffix(".verdicts.jsonl")
    check_outputs([output], [args.input])
    lines = list(iter_jsonl(args.input))
    if not lines:
        raise CLIError(f"--input {args.input}: no rows")
    where = [f"{args.input}:{number}" for number, _ in lines]
    rows = [row for _, row in lines]
    if args.verifier:
        verifiers = [args.verifier]
    else:
        verifiers = [field(row, args.verifier_field, at) for row, at in zip(rows, where)]
    responses = [field(row, args.response_field, at) for row, at in zip(rows, where)]
    truths = [field(row, args.ground_truth_field, at) for row, at in zip(rows, where)]
    prompts = [row.get(args.prompt_field) for row in rows] if args.prompt_field else None
    prepare_output_file(output, overwrite=args.overwrite, option="--output")
    try:
        verdicts = verify_batch(verifiers, responses, truths, prompts, mode=args.mode, partial=args.partial)
    except VerifierError as err:  # an unknown verifier name
        at = f"{where[err.row]}: " if err.row is not None and not args.verifier else ""
        raise CLIError(f"{at}{err.message}") from None

    with atomic_open(output) as f:
        for verdict in verdicts:
            record = {"score": verdict.score, "status": verdict.status, "extracted": verdict.extracted}
            if verdict.error is not None:
                record["error"] = verdict.error
            f.write(json.dumps(record, ensure_ascii=False) + "\n")

    counts = Counter(v.status for v in verdicts)
    mean = sum(v.score for v in verdicts) / len(verdicts)
    print(f"rows: {len(verdicts)}  accuracy: {counts['correct'] / len(verdicts):.4f}  mean score: {mean:.4f}")
    for status in ("correct", "wrong", "unparseable", "timeout", "error"):
        print(f"  {status:<12}{counts[status]:>8}")
    errors = [(at, v.error) for at, v in zip(where, verdicts, strict=True) if v.status == "error"]
    for at, message in errors[:10]:
        print(f"  {at}: {message}")
    if len(errors) > 10:
        print(f"  ... and {len(errors) - 10} more rows with status error")
    print(f"verdicts: {output}")
    return 0


# --- the program ----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from tulu_rewards import openrlhf

    parser = argparse.ArgumentParser(
        prog="tulu-rewards",
        description="Verifiable rewards: GSM8K, MATH, IFEval/IFBench, string F1, exact match",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    verify = sub.add_parser("verify", help="score a JSONL file of responses with a reward verifier")
    configure_verify_parser(verify)
    verify.set_defaults(_run=run_verify)
    serve = sub.add_parser("serve", help="HTTP reward server for OpenRLHF's --remote_rm_url")
    openrlhf.configure_serve_parser(serve)
    serve.set_defaults(_run=openrlhf.run_serve)
    return parser


def _version() -> str:
    from tulu_rewards import __version__

    return __version__


def run_command(run: Callable[[], int | None], bug_hint: str = BUG_HINT) -> int:
    """Run a command's body and return its exit code. A user error (`UserError`) is one line on stderr and
    code 2; an interrupt code 130; anything else is our bug: its traceback, `bug_hint`, code 1.
    (tulu_lightning's CLI runs its commands through this too.)"""
    try:
        return int(run() or 0)
    except UserError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print(f"error: {bug_hint}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(lambda: args._run(args))


if __name__ == "__main__":
    raise SystemExit(main())
