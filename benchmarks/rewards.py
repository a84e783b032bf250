"""Throughput of the Rust verifiers against the Python references, on the conformance corpus.

    python benchmarks/rewards.py [--repeat 20] [--reference-rows 400]

Prints items/s for math-verify, Google's IFEval checkers and IFBench's (both from if-verifiable) and ours, on one thread
(RAYON_NUM_THREADS=1) and on all cores, and the ratios. Ours runs in a child process per thread count,
because the pool size is fixed when the pool is first built.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "rewards"
NLTK_DATA_IDS = {"length_constraints:number_sentences", "change_case:capital_word_frequency"}


def load(name: str) -> list[dict]:
    with (DATA / f"{name}_corpus.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def ifeval_rows() -> list[dict]:
    # Rows whose reference needs NLTK data files (not installable here) are left out for both sides.
    return [r for r in load("ifeval") if r["id"] not in NLTK_DATA_IDS]


def ifbench_rows() -> list[dict]:
    # Rows whose reference needs NLTK data (stop words, punkt, the POS tagger) are left out for both sides.
    return [r for r in load("ifbench") if r["strict"] is not None and r["loose"] is not None]


def ground_truth(row: dict) -> str:
    return json.dumps({"instruction_id_list": [row["id"]], "kwargs": [row["kwargs"]]})


def ours(repeat: int) -> dict[str, float]:
    from tulu_lightning.rewards import verify

    math_rows, if_rows = load("math"), ifeval_rows()
    responses = [r["response"] for r in math_rows] * repeat
    golds = [r["gold"] for r in math_rows] * repeat
    if_responses = [r["response"] for r in if_rows] * repeat
    if_truths = [ground_truth(r) for r in if_rows] * repeat
    bench_rows = ifbench_rows()
    bench_responses = [r["response"] for r in bench_rows] * repeat
    bench_truths = [ground_truth(r) for r in bench_rows] * repeat
    verify("math", responses[:10], golds[:10])  # build the pool outside the timing
    rates = {}
    start = time.perf_counter()
    verify("math", responses, golds)
    rates["math"] = len(responses) / (time.perf_counter() - start)
    for mode in ("strict", "loose"):
        start = time.perf_counter()
        verify("ifeval", if_responses, if_truths, mode=mode)
        rates[f"ifeval_{mode}"] = len(if_responses) / (time.perf_counter() - start)
    for mode in ("strict", "loose"):
        start = time.perf_counter()
        verify("ifbench", bench_responses, bench_truths, mode=mode)
        rates[f"ifbench_{mode}"] = len(bench_responses) / (time.perf_counter() - start)
    return rates


def time_checkers(registry: dict, rows: list[dict], mode: str) -> float:
    """Items/s of the reference checkers on `rows` (a check that raises counts as not followed)."""
    from if_verifiable.common import get_loose_transformations

    start = time.perf_counter()
    for row in rows:
        checker = registry[row["id"]](row["id"])
        checker.build_description(**row["kwargs"])
        variants = [row["response"]] if mode == "strict" else get_loose_transformations(row["response"])
        for variant in variants:
            try:
                if variant.strip() and checker.check_following(variant):
                    break
            except Exception:
                pass
    return len(rows) / (time.perf_counter() - start)


def reference(rows_limit: int) -> dict[str, float]:
    import langdetect
    from if_verifiable.ifbench.instructions_registry import INSTRUCTION_DICT as IFBENCH
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT
    from math_verify import parse, verify

    langdetect.DetectorFactory.seed = 0
    math_rows = load("math")[:rows_limit]
    start = time.perf_counter()
    for row in math_rows:
        verify(parse(f"\\boxed{{{row['gold']}}}"), parse(row["response"]))
    rates = {"math": len(math_rows) / (time.perf_counter() - start)}
    for mode in ("strict", "loose"):
        rates[f"ifeval_{mode}"] = time_checkers(INSTRUCTION_DICT, ifeval_rows(), mode)
    for mode in ("strict", "loose"):
        rates[f"ifbench_{mode}"] = time_checkers(IFBENCH, ifbench_rows(), mode)
    return rates


def ours_in_child(threads: int, repeat: int) -> dict[str, float]:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    command = [sys.executable, __file__, "--ours-only", "--repeat", str(repeat)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="passes over the corpus for our verifier")
    parser.add_argument("--reference-rows", type=int, default=400, help="math rows timed with math-verify")
    parser.add_argument("--ours-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours_only:
        print(json.dumps(ours(args.repeat)))
        return
    import logging

    logging.disable(logging.CRITICAL)  # langdetect logs every text without letters
    cores = os.cpu_count() or 1
    ref = reference(args.reference_rows)
    one = ours_in_child(1, args.repeat)
    many = ours_in_child(cores, args.repeat)
    print(
        f"{'task':<16}{'reference/s':>14}{'ours 1 thread/s':>18}{'ratio':>9}"
        f"{f'ours {cores} threads/s':>22}{'ratio':>9}"
    )
    for task in ref:
        print(
            f"{task:<16}{ref[task]:>14,.0f}{one[task]:>18,.0f}{one[task] / ref[task]:>8.0f}x"
            f"{many[task]:>22,.0f}{many[task] / ref[task]:>8.0f}x"
        )


if __name__ == "__main__":
    main()
