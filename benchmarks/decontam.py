"""Benchmark of n-gram decontamination: our Rust scanner vs a straightforward pure-Python 8-gram set.

Builds (once, cached under benchmarks/_data/) a synthetic chat corpus of `--mb` MB of JSONL with copies of
benchmark questions planted in user turns (light edits: case, punctuation, text around them), plus decoys
that must not match: copies in assistant turns (only user turns are matched), partial copies covering 40%
of a question, and template phrases shared by many questions and many training rows. Then, in one run:

- our scanner on 1 thread and on all cores (each in a fresh process, RAYON_NUM_THREADS set), MB/s and
  peak RSS, also on a corpus a quarter of the size (memory must not grow with the corpus);
- the pure-Python baseline on the first `--python-mb` MB (it is slow), reported as MB/s;
- recall of the planted copies and false positives.

    python benchmarks/decontam.py --mb 250
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

DATA_DIR = Path(__file__).parent / "_data"
N = 8
FIELDS = ["messages[role=user].content"]
TEMPLATES = [
    "Let's think step by step and give the final answer at the end.",
    "Answer the following question and explain your reasoning in detail.",
    "Please solve the problem below and show all of your work clearly.",
]


def make_vocab(rng: random.Random, size: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(size)]


def sentence(rng: random.Random, pool: list[str], lo: int, hi: int) -> str:
    start = rng.randrange(len(pool) - hi)
    words = pool[start : start + rng.randint(lo, hi)]
    return " ".join(words).capitalize() + rng.choice([".", "?", "!", ","])


def word_pool(rng: random.Random, vocab: list[str], k: int) -> list[str]:
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]  # Zipf-like word frequencies
    return rng.choices(vocab, weights=weights, k=k)


def make_benchmark(path: Path, rng: random.Random, vocab: list[str], count: int) -> list[str]:
    pool = word_pool(rng, vocab, 100 * count)
    questions, cursor = [], 0
    with open(path, "w") as f:
        for i in range(count):
            # Consecutive slices of the pool, so that no two questions share an n-gram by construction; at
            # least 24 words of body, so that a template phrase (<= 13 words) never covers half a question.
            sentences = []
            for _ in range(rng.randint(3, 5)):
                length = rng.randint(8, 18)
                sentences.append(" ".join(pool[cursor : cursor + length]).capitalize() + rng.choice(".?!,"))
                cursor += length
            body = " ".join(sentences)
            question = f"{rng.choice(TEMPLATES)} {body}" if i % 3 == 0 else body
            questions.append(question)
            f.write(json.dumps({"id": f"q{i}", "question": question}) + "\n")
    return questions


def edited_copy(rng: random.Random, question: str) -> str:
    """Case, punctuation and spacing edits only (no paraphrase): the normalizer removes them."""
    text = question.upper() if rng.random() < 0.3 else question
    text = text.replace(" ", rng.choice([" ", "  ", ", ", " - "]), rng.randint(0, 5))
    before = rng.choice(["Q:", "Question:", "Hi! Can you help?"])
    return f"{before} {text} {rng.choice(['Thanks!', '', '(math)'])}"


def make_corpus(path: Path, target_bytes: int, questions: list[str], seed: int) -> dict[str, list[int]]:
    """Writes the training JSONL; returns the planted full copies: row id -> benchmark question indices."""
    rng = random.Random(seed)
    pool = word_pool(rng, make_vocab(random.Random(1), 30_000), 2_000_000)
    planted: dict[str, list[int]] = {}
    written, row = 0, 0
    with open(path, "w") as f:
        while written < target_bytes:
            user = " ".join(sentence(rng, pool, 8, 30) for _ in range(rng.randint(1, 6)))
            assistant = " ".join(sentence(rng, pool, 8, 30) for _ in range(rng.randint(3, 14)))
            roll = rng.random()
            q = rng.randrange(len(questions))
            if roll < 0.002:  # planted copy in a user turn: must be found
                user = f"{user} {edited_copy(rng, questions[q])}"
                planted[f"r{row}"] = [q]
            elif roll < 0.004:  # copy in the assistant turn only: not matched
                assistant = f"{assistant} {questions[q]}"
            elif roll < 0.006:  # 40% of the question's words: under the 50% threshold
                words = questions[q].split()
                user = f"{' '.join(words[: int(0.4 * len(words))])} {user}"
            elif roll < 0.05:  # a template phrase shared with many questions: hits, low coverage
                user = f"{rng.choice(TEMPLATES)} {user}"
            messages = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
            if roll > 0.9:  # multi-turn
                follow = " ".join(sentence(rng, pool, 8, 20) for _ in range(2))
                messages += [
                    {"role": "user", "content": follow},
                    {"role": "assistant", "content": assistant[:200]},
                ]
            line = json.dumps({"id": f"r{row}", "messages": messages}) + "\n"
            f.write(line)
            written += len(line)
            row += 1
    return planted


def prepare(mb: int, seed: int) -> tuple[Path, Path, dict[str, list[int]]]:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    bench = DATA_DIR / "bench_questions.jsonl"
    # The same questions for every corpus size: planted copies refer to them by index.
    questions = make_benchmark(bench, random.Random(1234), make_vocab(random.Random(2), 30_000), 3000)
    corpus = DATA_DIR / f"train_{mb}mb_seed{seed}.jsonl"
    truth_path = corpus.with_suffix(".planted.json")
    if not (corpus.exists() and truth_path.exists()):
        start = time.perf_counter()
        planted = make_corpus(corpus, mb * 1_000_000, questions, seed)
        truth_path.write_text(json.dumps(planted))
        print(f"generated {corpus} ({mb} MB) in {time.perf_counter() - start:.0f}s", file=sys.stderr)
    return bench, corpus, json.loads(truth_path.read_text())


# ---- the straightforward pure-Python baseline ----

WORD = re.compile(r"[^\W_]+")


def py_tokens(text: str) -> list[str]:
    return WORD.findall(text.lower())


def py_ngrams(tokens: list[str]) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + N]) for i in range(len(tokens) - N + 1)]


def python_baseline(bench: Path, corpus: Path, max_bytes: int) -> dict:
    with open(bench) as f:
        questions = [json.loads(line)["question"] for line in f]
    table: dict[tuple[str, ...], set[int]] = {}
    lengths = []
    for i, q in enumerate(questions):
        tokens = py_tokens(q)
        lengths.append(len(tokens))
        for gram in py_ngrams(tokens):
            table.setdefault(gram, set()).add(i)
    start, nbytes, found = time.perf_counter(), 0, 0
    with open(corpus) as f:
        for line in f:
            nbytes += len(line)
            record = json.loads(line)
            grams = set()
            for m in record["messages"]:
                if m["role"] == "user":
                    grams.update(py_ngrams(py_tokens(m["content"])))
            hits = [q for gram in grams if gram in table for q in table[gram]]
            for q in set(hits):
                qgrams = py_ngrams(py_tokens(questions[q]))
                covered = {p for p, g in enumerate(qgrams) if g in grams for p in range(p, p + N)}
                found += len(covered) / lengths[q] > 0.5
            if nbytes >= max_bytes:
                break
    seconds = time.perf_counter() - start
    return {
        "bytes": nbytes,
        "seconds": seconds,
        "mb_per_s": nbytes / 1e6 / seconds,
        "contaminated_rows": found,
    }


# ---- our scanner, one measurement per fresh process ----


def ours_worker(bench: str, corpus: str) -> None:
    from tulu_lightning import decontam

    index = decontam.build_index([decontam.DataSpec(bench, ["question"])], n=N)
    cfg = decontam.DecontamConfig(train_fields=FIELDS)
    scan = decontam.scan_file(index, decontam.DataSpec(corpus, FIELDS), cfg, clean_path=None)
    found = {
        row.id: sorted(int(index.instances()[m.instance][1][1:]) for m in row.matches)
        for row in scan.contaminated
    }
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"bytes": scan.bytes, "seconds": scan.seconds, "peak_rss_mb": peak_mb, "found": found}
    print(json.dumps(out))


def ours(bench: Path, corpus: Path, threads: int) -> dict:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    cmd = [sys.executable, __file__, "--worker", str(bench), str(corpus)]
    result = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)
    result["mb_per_s"] = result["bytes"] / 1e6 / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=250, help="training corpus size in MB")
    parser.add_argument("--python-mb", type=int, default=20, help="MB the pure-Python baseline is timed on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return ours_worker(*args.worker)

    bench, corpus, planted = prepare(args.mb, args.seed)
    _, small, _ = prepare(max(args.mb // 4, 1), args.seed + 1)
    cores = os.cpu_count() or 1
    one = ours(bench, corpus, 1)
    full = ours(bench, corpus, cores)
    small_run = ours(bench, small, cores)
    py = python_baseline(bench, corpus, args.python_mb * 1_000_000)

    found = full["found"]
    recalled = sum(found.get(row) == qs for row, qs in planted.items())
    false_pos = sum(1 for row, qs in found.items() for q in qs if q not in planted.get(row, []))
    assert one["found"] == found, "1 thread and all cores disagree"
    results = {
        "corpus_mb": full["bytes"] / 1e6,
        "python_mb_per_s": py["mb_per_s"],
        "python_timed_mb": py["bytes"] / 1e6,
        "ours_1_thread_mb_per_s": one["mb_per_s"],
        f"ours_{cores}_threads_mb_per_s": full["mb_per_s"],
        "speedup_1_thread": one["mb_per_s"] / py["mb_per_s"],
        f"speedup_{cores}_threads": full["mb_per_s"] / py["mb_per_s"],
        "peak_rss_mb": {
            f"{small_run['bytes'] / 1e6:.0f}MB": small_run["peak_rss_mb"],
            f"{full['bytes'] / 1e6:.0f}MB": full["peak_rss_mb"],
        },
        "planted": len(planted),
        "recall": recalled / max(len(planted), 1),
        "false_positive_pairs": false_pos,
    }
    (DATA_DIR / "results.json").write_text(json.dumps(results, indent=2))
    print(f"corpus: {results['corpus_mb']:.0f} MB of chat JSONL, 3000 benchmark questions, n={N}, user turns")
    timed_mb = py["bytes"] / 1e6
    print(f"pure Python : {py['mb_per_s']:8.2f} MB/s (timed on the first {timed_mb:.0f} MB, extrapolated)")
    print(f"ours 1 thread: {one['mb_per_s']:8.1f} MB/s   {results['speedup_1_thread']:6.0f}x Python")
    speedup = results[f"speedup_{cores}_threads"]
    print(f"ours {cores} threads: {full['mb_per_s']:7.1f} MB/s   {speedup:6.0f}x Python")
    for size, rss in results["peak_rss_mb"].items():
        print(f"peak RSS scanning {size}: {rss:.0f} MB")
    print(f"planted copies recovered: {recalled}/{len(planted)}; false-positive pairs: {false_pos}")


if __name__ == "__main__":
    main()
