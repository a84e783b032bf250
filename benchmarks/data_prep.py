"""Preparing SFT data: our prepared store against TRL's SFT preprocessing, on the same rows, tokenizer and cores.

    python benchmarks/data_prep.py --rows 100000 --num-proc 2 [--out DIR] [--no-trl] [--old-sample 2000] [--fit]

1. Generates `--rows` Tülu-shaped conversations (1–3 user/assistant exchanges, a system prompt in about a third,
   turn lengths drawn log-normally around the SFT mixture's: about 550 tokens a conversation with this
   tokenizer) as JSONL, and trains a byte-level BPE tokenizer (16k) on a sample of them.
2. Ours: `prepared.prepare` (read, validate every row, tokenize and mask through `datasets.map(batched=True,
   num_proc)`, length limit, Arrow store), cold.
3. TRL: `datasets.load_dataset("json")`, then `SFTTrainer._prepare_dataset` itself (TRL's own code, called on a
   stand-in trainer: chat template + tokenization + assistant mask through `datasets.map(num_proc)` with
   `assistant_only_loss=True`, labels, truncation, filtering), cold (its own `datasets` cache, emptied first).
   Its template is the Tülu template with `{% generation %}` around each answer, which TRL needs for the
   assistant mask; ours is the plain Tülu template; tests/test_chat_fast.py shows both give the same ids and
   labels.
4. A fresh process then starts as `fit` does on the prepared store (found by its key, packed by its lengths
   column) and iterates over every packed micro-batch; its peak RSS above the RSS it had before opening the data
   is printed, with the time to its first batch.
5. `--fit`: a real `python -m tulu_lightning fit` (SFT, a tiny Llama saved with the benchmark's tokenizer, the
   same rows, store directory and length rule, so it finds the store step 2 wrote) runs one optimizer step: the
   wall time of that whole process, from its start to its exit, bounds a cached start's time to its first step.

Throughput is tokens of the prepared examples per second of wall time, each side measured from the JSONL file to
its prepared dataset, with its libraries (`datasets`, `trl`) already imported. `--old-sample N` also times the pre-store data path (`tokenize_chat` row by row, in one
process) on the first N rows.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

MAX_LENGTH = 4096
# over-long chats cut and kept, as TRL's truncation does (both sides then hold the same tokens)
RECIPE_ARGS = {"kind": "sft", "max_length": MAX_LENGTH, "keep_truncated": True}
SYLLABLES = [
    "ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "ve", "da", "qu", "an", "er", "in", "on", "us", "th", "re",
    "st", "ing", "al", "ou", "ex", "pl", "gr", "br", "ch", "é", "ü", "ñ", "ō",
]  # fmt: skip
PUNCTUATION = [".", ",", "?", "!", ":", ";", " -", "\n", "\n\n", " (", ")", "\n- ", "\n1. "]


def make_words(rng: random.Random, count: int) -> list[str]:
    words = []
    for _ in range(count):
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
        words.append(word.capitalize() if rng.random() < 0.1 else word)
    return words


def text(rng: random.Random, words: list[str], median_words: float, sigma: float, cap: int) -> str:
    n = max(1, min(cap, int(rng.lognormvariate(math.log(median_words), sigma))))
    parts = []
    for _ in range(n):
        r = rng.random()
        if r < 0.06:
            parts.append(str(rng.randint(0, 10_000)))
        else:
            parts.append(rng.choice(words))
        if rng.random() < 0.12:
            parts[-1] += rng.choice(PUNCTUATION)
    return " ".join(parts)


def conversation(rng: random.Random, words: list[str]) -> dict:
    messages = []
    if rng.random() < 0.33:
        messages.append({"role": "system", "content": text(rng, words, 25, 0.8, 300)})
    exchanges = rng.choices([1, 2, 3], weights=[0.6, 0.25, 0.15])[0]
    for _ in range(exchanges):
        messages.append({"role": "user", "content": text(rng, words, 45, 1.0, 1500)})
        messages.append({"role": "assistant", "content": text(rng, words, 120, 0.9, 2000)})
    return {"id": f"synthetic_{rng.getrandbits(48):012x}", "messages": messages, "source": "synthetic"}


def generate(path: Path, rows: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    words = make_words(rng, 6000)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(rows):
            f.write(json.dumps(conversation(rng, words), ensure_ascii=False) + "\n")


def build_tokenizer(chats: Path, directory: Path) -> None:
    from tulu_lightning.models import train_tiny_tokenizer

    texts = []
    with open(chats, encoding="utf-8") as f:
        for _, line in zip(range(3000), f):
            texts += [m["content"] for m in json.loads(line)["messages"]]
    train_tiny_tokenizer(texts, vocab_size=16_000).save_pretrained(directory)


def load_tokenizer(directory: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(directory)


# --- the two sides ----------------------------------------------------------------------------------------------


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the `datasets.map` workers), user + system."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Timed:
    """Wall and CPU seconds of a block (CPU time: what the figures would be on an idle machine, wall time when
    other jobs share its cores)."""

    def __enter__(self) -> Timed:
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu_seconds() - self.cpu


def ours(chats: Path, tokenizer_dir: Path, stores: Path, num_proc: int) -> tuple[Timed, int, Path]:
    import datasets  # noqa: F401 (loaded before the clock starts, as TRL's side loads it with `trl`: 1.6 CPU-s)

    from tulu_lightning.config import DataConfig
    from tulu_lightning.prepared import Recipe, prepare

    tokenizer = load_tokenizer(tokenizer_dir)
    with Timed() as timed:
        data = DataConfig(train_files=[str(chats)])
        store = prepare(data, Recipe(**RECIPE_ARGS), tokenizer, stores, num_proc)
    assert store.prepared_here
    return timed, int(store.train.lengths.sum()), store.directory


def trl_side(chats: Path, tokenizer_dir: Path, cache: Path, num_proc: int) -> tuple[Timed, int]:
    """TRL's own SFT preprocessing (`SFTTrainer._prepare_dataset`) on a stand-in trainer."""
    import datasets
    from trl import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    from tests.test_chat_fast import GENERATION_TEMPLATE

    tokenizer = load_tokenizer(tokenizer_dir)
    tokenizer.chat_template = GENERATION_TEMPLATE

    class Trainer:  # what `_prepare_dataset` reads from its trainer
        _tokenizer = tokenizer
        completion_only_loss = None
        chat_template = None

    args = SFTConfig(
        output_dir=str(cache / "trl_out"),
        dataset_num_proc=num_proc,
        assistant_only_loss=True,
        max_length=MAX_LENGTH,
        packing=False,
        report_to=[],
        use_cpu=True,
        bf16=False,
    )
    with Timed() as timed:
        dataset = datasets.load_dataset("json", data_files=str(chats), split="train", cache_dir=str(cache))
        dataset = SFTTrainer._prepare_dataset(Trainer(), dataset, tokenizer, args, False, None, "train")
    tokens = sum(len(ids) for batch in dataset.iter(10_000) for ids in batch["input_ids"])
    return timed, tokens


def old_path(chats: Path, tokenizer_dir: Path, rows: int) -> int:
    """The data path before the store: rows as Python dicts, `tokenize_chat` row by row, one process."""
    from tulu_lightning.chat import LengthLimit, tokenize_chat
    from tulu_lightning.schemas import Schema, validate_splits

    tokenizer = load_tokenizer(tokenizer_dir)
    rows_read = [row for _, row in zip(range(rows), iter_file_rows(chats))]
    (normalised,) = validate_splits([(rows_read, Schema("sft"))])
    limit, tokens = LengthLimit(MAX_LENGTH, keep_truncated=True), 0
    for row in normalised:
        fitted = limit.fit(tokenize_chat(tokenizer, row["messages"]))
        tokens += len(fitted[0].input_ids) if fitted else 0
    return tokens


def iter_file_rows(path: Path):
    from tulu_lightning.data import Row
    from tulu_lightning.files import iter_jsonl

    for number, fields in iter_jsonl(path):
        yield Row(str(path), number, fields)


# --- a training process on the store --------------------------------------------------------------------------


def memory() -> dict[str, int]:
    """This process's peak and current resident memory (bytes), from /proc."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def iterate(
    tokenizer_dir: Path, stores: Path, chats: Path, micro_batch_size: int, store_dir: Path | None
) -> dict:
    """What a `fit` process does with the data: find the store (by its key; or open `store_dir`), pack it by its
    lengths column, collate every micro-batch."""
    import torch  # noqa: F401 (a training process has it loaded before the data)

    from tulu_lightning.config import DataConfig
    from tulu_lightning.data import PackedRows, collate_packed, pack_rows
    from tulu_lightning.prepared import Recipe, open_store, prepare

    tokenizer = load_tokenizer(tokenizer_dir)
    before = memory()
    started = time.perf_counter()
    if store_dir is None:
        store = prepare(DataConfig(train_files=[str(chats)]), Recipe(**RECIPE_ARGS), tokenizer, stores)
        assert not store.prepared_here
    else:
        store = open_store(store_dir)
    rows = PackedRows(store.train, *pack_rows(store.train.lengths, MAX_LENGTH))
    first = collate_packed([rows[i] for i in range(micro_batch_size)], tokenizer.pad_token_id)
    first_batch = time.perf_counter() - started
    tokens = int(first["input_ids"].numel())
    for start in range(micro_batch_size, len(rows), micro_batch_size):
        batch = collate_packed([rows[i] for i in range(start, min(start + micro_batch_size, len(rows)))], 0)
        tokens += int(batch["input_ids"].numel())
    after = memory()
    return {
        "examples": len(store.train),
        "first_batch_s": first_batch,
        "iterate_s": time.perf_counter() - started,
        "packed_rows": len(rows),
        "batch_tokens": tokens,
        "rss_before": before["VmRSS"],
        "peak_rss": after["VmHWM"],
        "rss_anon_end": after["RssAnon"],
        "rss_file_end": after["RssFile"],
    }


def replicate(directory: Path, times: int) -> Path:
    """A store holding `directory`'s training examples `times` over (the RSS of a training process on 10× the
    rows without preparing them again: only sizes matter there)."""
    import datasets

    from tulu_lightning.prepared import META

    bigger = directory.with_name(f"{directory.name}-x{times}")
    shutil.rmtree(bigger, ignore_errors=True)
    train = datasets.load_from_disk(str(directory / "train"))
    datasets.concatenate_datasets([train] * times).save_to_disk(str(bigger / "train"))
    shutil.copy(directory / META, bigger / META)
    (bigger / "val_rows.jsonl").write_text("")
    return bigger


def training_process(tokenizer_dir: Path, stores: Path, chats: Path, store_dir: Path | None = None) -> None:
    command = [sys.executable, __file__, "--iterate", str(tokenizer_dir), str(stores), str(chats)]
    child = subprocess.run(
        [*command, *([str(store_dir)] if store_dir else [])],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    run = json.loads(child.stdout.strip().splitlines()[-1])
    mb = 1 / 2**20
    print(
        f"training process on {run['examples']:,} prepared examples: first batch after {run['first_batch_s']:.2f} s "
        f"({'found by key' if store_dir is None else 'opened'}, packed into {run['packed_rows']:,} rows), every "
        f"micro-batch collated in {run['iterate_s']:.1f} s; RSS before the data {run['rss_before'] * mb:.0f} MiB, "
        f"peak {run['peak_rss'] * mb:.0f} MiB (+{(run['peak_rss'] - run['rss_before']) * mb:.0f} MiB; at the end "
        f"anonymous {run['rss_anon_end'] * mb:.0f} MiB, file-backed {run['rss_file_end'] * mb:.0f} MiB)"
    )


FIT_CONFIG = """\
objective: sft
model:
  name_or_path: {model}
data:
  train_files: [{chats}]
  max_seq_length: {max_length}
  keep_truncated: true
  prepared_dir: {stores}
trainer:
  output_dir: {output}
  max_steps: 1
  micro_batch_size: 1  # one packed row of max_seq_length tokens: the step's own compute stays small
  accelerator: cpu
  export: false
  overwrite: true
tracking:
  enabled: false
eval:
  enabled: false
sft:
  packing: true
"""


def fit_first_step(tokenizer_dir: Path, stores: Path, chats: Path, out: Path) -> None:
    """One optimizer step of a real `fit` process on the prepared rows (step 5)."""
    from tulu_lightning.config import TinyModelConfig
    from tulu_lightning.models import build_tiny_model

    model_dir, config = out / "fit_model", out / "fit.yaml"
    if not model_dir.exists():
        tokenizer = load_tokenizer(tokenizer_dir)
        build_tiny_model(TinyModelConfig(max_position_embeddings=MAX_LENGTH), tokenizer).save_pretrained(
            model_dir
        )
        tokenizer.save_pretrained(model_dir)
    config.write_text(
        FIT_CONFIG.format(
            model=model_dir, chats=chats, max_length=MAX_LENGTH, stores=stores, output=out / "fit"
        )
    )
    stores_before = set(stores.iterdir())
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-m", "tulu_lightning", "fit", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    wall = time.perf_counter() - started
    if child.returncode:
        print(child.stdout[-2000:], child.stderr[-4000:])
        raise SystemExit(f"fit failed ({child.returncode})")
    found = set(stores.iterdir()) == stores_before
    print(
        f"fit, one optimizer step ({'store found by key' if found else 'store PREPARED again: keys differ'}): "
        f"{wall:.1f} s from process start to exit"
    )


def report(name: str, tokens: int, timed: Timed) -> None:
    print(
        f"{name}: {tokens:,} tokens in {timed.wall:.1f} s = {tokens / timed.wall:,.0f} tokens/s "
        f"(CPU {timed.cpu:.1f} s: {tokens / timed.cpu:,.0f} tokens per CPU-second)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--num-proc", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--out", default="outputs/bench_data_prep")
    parser.add_argument("--no-trl", action="store_true", help="skip TRL's side (e.g. at 1M rows)")
    parser.add_argument("--old-sample", type=int, default=0, help="also time the pre-store path on N rows")
    parser.add_argument(
        "--replicate", type=int, default=0, help="also iterate over a store of K times the prepared examples"
    )
    parser.add_argument(
        "--fit", action="store_true", help="also time a real `fit` to its first step (step 5)"
    )
    parser.add_argument("--iterate", nargs="+", help=argparse.SUPPRESS)  # TOKENIZER STORES CHATS [STORE]
    args = parser.parse_args()
    if args.iterate:  # the child process of step 4
        paths = [Path(p) for p in args.iterate]
        print(
            json.dumps(
                iterate(*paths[:3], micro_batch_size=8, store_dir=paths[3] if len(paths) > 3 else None)
            )
        )
        return

    out = Path(args.out) / f"rows{args.rows}"
    out.mkdir(parents=True, exist_ok=True)
    chats, tokenizer_dir, stores, cache = (
        out / "chats.jsonl",
        out / "tokenizer",
        out / "stores",
        out / "hf_cache",
    )
    if not chats.exists():
        started = time.perf_counter()
        generate(chats, args.rows)
        print(f"generated {args.rows} conversations in {time.perf_counter() - started:.1f} s: {chats}")
    if not tokenizer_dir.exists():
        build_tokenizer(chats, tokenizer_dir)
    shutil.rmtree(stores, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    load = os.getloadavg()[0]
    print(
        f"rows {args.rows}, processes {args.num_proc}, file {chats.stat().st_size / 1e6:.0f} MB, load {load:.1f}"
    )

    ours_t, ours_tokens, directory = ours(chats, tokenizer_dir, stores, args.num_proc)
    report("ours", ours_tokens, ours_t)
    print(f"       {directory}")
    if not args.no_trl:
        trl_t, trl_tokens = trl_side(chats, tokenizer_dir, cache, args.num_proc)
        report("TRL ", trl_tokens, trl_t)
        print(f"same tokens on both sides: {trl_tokens == ours_tokens}")
        print(
            f"ratio: {(ours_tokens / ours_t.wall) / (trl_tokens / trl_t.wall):.2f}x TRL's throughput (wall), "
            f"{(ours_tokens / ours_t.cpu) / (trl_tokens / trl_t.cpu):.2f}x (CPU time)"
        )
        shutil.rmtree(cache, ignore_errors=True)
    if args.old_sample:
        with Timed() as old_t:
            old_tokens = old_path(chats, tokenizer_dir, args.old_sample)
        report(f"pre-store path ({args.old_sample} rows, 1 process)", old_tokens, old_t)

    training_process(tokenizer_dir, stores, chats)
    if args.fit:
        fit_first_step(tokenizer_dir, stores, chats, out)
    if args.replicate > 1:
        training_process(tokenizer_dir, stores, chats, replicate(directory, args.replicate))


if __name__ == "__main__":
    sys.path.insert(
        0, str(Path(__file__).resolve().parents[1])
    )  # `tests.test_chat_fast` holds TRL's template
    main()
