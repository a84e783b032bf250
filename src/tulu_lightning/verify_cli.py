"""`python -m tulu_lightning verify`: score a JSONL file of responses with a verifier."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from tulu_lightning.errors import CLIError
from tulu_lightning.files import atomic_open, check_outputs, iter_jsonl, prepare_output_file


def configure_parser(parser: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace) -> int:
    from tulu_lightning.rewards import VerifierError, verify_batch

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
