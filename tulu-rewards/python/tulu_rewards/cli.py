"""Command line: `tulu-rewards verify ...` (score a JSONL file) and `tulu-rewards serve ...` (OpenRLHF's
remote reward server). Standard library only; `python -m tulu_lightning verify` is the same command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path


class CLIError(Exception):
    """A user error reported as one line on stderr with exit code 2 (no traceback)."""


# --- verify ---------------------------------------------------------------------------------------------


def configure_verify_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, type=Path, help="JSONL file, one response per line")
    parser.add_argument("--verifier", help="verifier for every line (default: each line's --verifier-field)")
    parser.add_argument("--output", type=Path, help="per-line verdicts (default: <input>.verdicts.jsonl)")
    parser.add_argument("--mode", default="strict", choices=["strict", "loose", "flex"])
    parser.add_argument("--partial", action="store_true", help="IFEval: score the fraction of constraints")
    parser.add_argument("--response-field", default="response")
    parser.add_argument("--ground-truth-field", default="ground_truth")
    parser.add_argument("--verifier-field", default="dataset")
    parser.add_argument(
        "--prompt-field", help="field holding the prompt (answers copied from it don't count)"
    )


def read_rows(path: Path) -> list[tuple[int, dict]]:
    """The JSON objects of a JSONL file, each with its line number (blank lines skipped)."""
    if not path.is_file():
        raise CLIError(f"no such file: {path}")
    rows = []
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise CLIError(f"{path}:{number}: not UTF-8 text (byte 0x{raw[err.start]:02x})") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise CLIError(f"{path}:{number}: not JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise CLIError(f"{path}:{number}: not a JSON object")
            rows.append((number, row))
    return rows


def field(row: dict, name: str, line: int) -> str:
    if name not in row:
        raise CLIError(f"line {line}: missing field {name!r}")
    value = row[name]
    # IFEval ground truths may be stored as JSON objects rather than JSON strings.
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # after symbolic and hard links
    except OSError:
        return False


def write_lines_atomically(path: Path, lines: list[str]) -> None:
    """Write `lines` to a temporary file beside `path`, then rename it into place: an interrupted run
    leaves the old file (or none), never a half-written one."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run_verify(args: argparse.Namespace) -> int:
    from tulu_rewards.verifiers import VerifierError, verify_batch

    rows = read_rows(args.input)
    if not rows:
        raise CLIError(f"{args.input} has no rows")
    output = args.output or args.input.with_suffix(".verdicts.jsonl")
    if _same_file(output, args.input):
        raise CLIError(
            f"{output}: writing it would overwrite the input {args.input}; choose another --output"
        )
    if not output.parent.is_dir():
        raise CLIError(f"{output}: no such directory {output.parent}")
    if args.verifier:
        verifiers = [args.verifier]
    else:
        verifiers = [field(row, args.verifier_field, line) for line, row in rows]
    responses = [field(row, args.response_field, line) for line, row in rows]
    truths = [field(row, args.ground_truth_field, line) for line, row in rows]
    prompts = [row.get(args.prompt_field) for _, row in rows] if args.prompt_field else None
    try:
        verdicts = verify_batch(verifiers, responses, truths, prompts, mode=args.mode, partial=args.partial)
    except VerifierError as err:  # an unknown verifier name
        where = f"{args.input}:{rows[err.row][0]}: " if err.row is not None and not args.verifier else ""
        raise CLIError(f"{where}{err.message}") from None

    records = []
    for verdict in verdicts:
        record = {"score": verdict.score, "status": verdict.status, "extracted": verdict.extracted}
        if verdict.error is not None:
            record["error"] = verdict.error
        records.append(json.dumps(record, ensure_ascii=False))
    write_lines_atomically(output, records)

    counts = Counter(v.status for v in verdicts)
    mean = sum(v.score for v in verdicts) / len(verdicts)
    print(f"rows: {len(verdicts)}  accuracy: {counts['correct'] / len(verdicts):.4f}  mean score: {mean:.4f}")
    for status in ("correct", "wrong", "unparseable", "timeout", "error"):
        print(f"  {status:<12}{counts[status]:>8}")
    errors = [(line, v.error) for (line, _), v in zip(rows, verdicts, strict=True) if v.status == "error"]
    for line, message in errors[:10]:
        print(f"  {args.input}:{line}: {message}")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except CLIError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
