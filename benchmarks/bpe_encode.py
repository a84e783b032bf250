"""Tokenization alone, one thread: the native BPE encoder (`rust/src/bpe`) against `tokenizers`, on the same
rendered conversations, spans and tokenizer, with the ids and labels compared row by row.

    python benchmarks/bpe_encode.py [--rows 5000] [--decomposed 0.0] [--shape digits|qwen2|both]

The conversations are data_prep.py's (Tülu-shaped, about 550 tokens each, words with é, ü, ñ, ō: NFC text with
non-ASCII characters), rendered with the Tülu template, each assistant turn a span. Two tokenizer shapes, each
trained (16k) on a sample of the rows:
- `digits`: the toolkit's own (`train_tiny_tokenizer`: Digits, ByteLevel with its regex, no normalizer);
- `qwen2`: Qwen 2 / 2.5's pipeline (NFC normalizer, its Split regex, ByteLevel without regex, ByteLevel
  post-processor without trim_offsets, special tokens not normalized).
`--decomposed F` writes a fraction F of the words decomposed (NFD: "e" + U+0301 for "é"), so that the NFC
normalizer changes them (the slow path: the text is normalized with alignments back to the original).

`tokenizers` side: `chat.label_spans`' own fallback (one `encode_batch`, the tokens at each span's ends looked up),
with `TOKENIZERS_PARALLELISM=false` and `RAYON_NUM_THREADS=1` so both sides use one core. Wall and CPU seconds;
the ratio is `tokenizers`' time over the native encoder's in the same run.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import unicodedata

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_NUM_THREADS", "1")

from data_prep import conversation, make_words  # this directory (run as a script)


def conversations(rows: int, decomposed: float, seed: int = 0) -> list[list[dict]]:
    rng = random.Random(seed)
    words = make_words(rng, 6000)
    chats = [conversation(rng, words)["messages"] for _ in range(rows)]
    if decomposed:
        for messages in chats:
            for message in messages:
                message["content"] = " ".join(
                    unicodedata.normalize("NFD", w) if rng.random() < decomposed else w
                    for w in message["content"].split(" ")
                )
    return chats


def timed(f):
    wall, cpu = time.perf_counter(), time.process_time()
    result = f()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def compare(name: str, tokenizer, texts: list[str], spans: list[list[tuple]]) -> None:
    from tulu_lightning import chat

    encoder = chat.native_encoder(tokenizer)
    if encoder is None:
        print(f"{name}: the native encoder declines this tokenizer")
    else:
        chat.native_encode(tokenizer, texts[:50], spans[:50], threads=1)  # warm-up (page faults, caches)
        native, native_wall, native_cpu = timed(
            lambda: chat.native_encode(tokenizer, texts, spans, threads=1)
        )
    # `label_spans`' `tokenizers` path, as taken for a tokenizer the native encoder declines
    chat._ENCODERS[tokenizer] = (len(tokenizer), None)
    reference, ref_wall, ref_cpu = timed(lambda: chat.label_spans(tokenizer, texts, spans))
    tokens = sum(len(ids) for ids, _ in reference)
    print(f"{name}: {len(texts)} rows, {tokens:,} tokens")
    print(f"  tokenizers: {ref_wall:.2f} s wall, {ref_cpu:.2f} s CPU ({tokens / ref_cpu:,.0f} tokens/CPU-s)")
    if encoder is None:
        return
    differing = sum(
        a.tolist() != c.tolist() or b.tolist() != d.tolist()
        for (a, b), (c, d) in zip(native, reference, strict=True)
    )
    print(
        f"  native:     {native_wall:.2f} s wall, {native_cpu:.2f} s CPU ({tokens / native_cpu:,.0f} tokens/CPU-s)"
    )
    print(
        f"  ratio {ref_cpu / native_cpu:.2f}x (CPU), {ref_wall / native_wall:.2f}x (wall); rows differing: {differing}"
    )


def main() -> None:
    from tulu_lightning.chat import tulu_spans
    from tulu_lightning.models import BOS, EOS, qwen2_pipeline, train_tiny_tokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--decomposed", type=float, default=0.0, help="fraction of words written NFD")
    parser.add_argument("--shape", choices=["digits", "qwen2", "both"], default="both")
    args = parser.parse_args()
    chats = conversations(args.rows, args.decomposed)
    rendered = [tulu_spans(messages, BOS, EOS) for messages in chats]
    texts, spans = [text for text, _ in rendered], [s for _, s in rendered]
    sample = [m["content"] for messages in conversations(3000, 0.0, seed=1) for m in messages]
    print(f"load {os.getloadavg()[0]:.1f}, decomposed words {args.decomposed:.0%}", file=sys.stderr)
    if args.shape in ("digits", "both"):
        compare("digits (no normalizer)", train_tiny_tokenizer(sample, vocab_size=16_000), texts, spans)
    if args.shape in ("qwen2", "both"):
        compare("qwen2 (NFC)", train_tiny_tokenizer(sample, 16_000, **qwen2_pipeline()), texts, spans)


if __name__ == "__main__":
    main()
