"""Generated tokens per second of the Hugging Face rollout backend (`HFRollout`), on RLVR prompts.

    python benchmarks/rollout.py [--model outputs/demo/sft/hf] [--device cpu|cuda] [--batch-sizes 16 64 128]

Without --model it builds the demo-sized tiny model (random weights, so responses run to --max-tokens). Prompts
are the bundled RLVR prompts; each prompt is sampled `--n` times at temperature 1. Reports tokens/s (tokens
actually generated, EOS included) for each generation batch size, best of `--repeat`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from tulu_lightning.chat import prompt_ids
from tulu_lightning.config import ModelConfig, TinyModelConfig
from tulu_lightning.evaluation import prompt_messages
from tulu_lightning.files import read_jsonl
from tulu_lightning.models import load_causal_lm, load_tokenizer
from tulu_lightning.rollout import HFRollout, SamplingParams

DATA = Path(__file__).resolve().parent.parent / "data" / "demo"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="HF directory; default: a tiny random demo-sized model")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64, 128])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    rows = read_jsonl(DATA / "rlvr_train.jsonl")[: args.prompts]
    tiny = TinyModelConfig(vocab_size=384, hidden_size=128, intermediate_size=384, num_hidden_layers=4)
    model_cfg = ModelConfig(name_or_path=args.model, tiny=None if args.model else tiny)
    tokenizer = load_tokenizer(model_cfg, texts=[m["content"] for row in rows for m in row["messages"]])
    model = load_causal_lm(model_cfg, tokenizer).to(args.device)
    prompts = [prompt_ids(tokenizer, prompt_messages(row)) for row in rows]
    params = SamplingParams(n=args.n, temperature=1.0, max_tokens=args.max_tokens, seed=0)
    print(f"model={args.model or 'tiny random'} device={args.device} prompts={len(prompts)} n={args.n}")
    for batch_size in args.batch_sizes:
        rollout = HFRollout(model, tokenizer, batch_size=batch_size)
        best = 0.0
        for _ in range(args.repeat):
            started = time.perf_counter()
            completions = rollout.generate(prompts, params)
            if args.device == "cuda":
                torch.cuda.synchronize()
            tokens = sum(len(c.token_ids) for c in completions)
            best = max(best, tokens / (time.perf_counter() - started))
        print(
            f"generation batch {batch_size:4d}: {best:9.0f} generated tokens/s ({len(completions)} sequences)"
        )


if __name__ == "__main__":
    main()
