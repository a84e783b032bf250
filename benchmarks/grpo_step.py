"""Samples per second of our GRPO step (rollout + reward + scoring + update), on the demo settings.

    python benchmarks/grpo_step.py --model outputs/demo/sft/hf [--steps 4] [--prompts 32] [--n 8] [--tokens 32]

Trains `--steps` rollout batches of `--prompts` prompts × `--n` samples (the bundled RLVR prompts, gsm8k and
ifeval verifiers), `--tokens` new tokens at most, one update epoch of one minibatch (configs/demo/rlvr_grpo.yaml),
and prints the per-step figures the trainer logs (`train/samples_per_sec`, `train/rollout_seconds`,
`train/update_seconds`, `train/reward_seconds`): the median over the steps after the first (warm-up), with their
min–max. Use the demo SFT model (`make demo` writes it): a random model is never rewarded, so every GRPO group
would be dropped and the update would cost nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "demo"
FIGURES = ("samples_per_sec", "rollout_seconds", "reward_seconds", "update_seconds", "groups_kept_frac")


def main() -> None:
    from mlflow import MlflowClient

    from tulu_lightning.train import fit, load_run_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "outputs" / "demo" / "sft" / "hf"))
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--beta", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_run_config(
            str(REPO / "configs" / "demo" / "rlvr_grpo.yaml"),
            [
                f"model.name_or_path={args.model}",
                f"data.train_files=[{DEMO / 'rlvr_train.jsonl'}]",
                f"data.val_files=[{DEMO / 'rlvr_val.jsonl'}]",
                f"trainer.output_dir={tmp}/run",
                f"trainer.max_steps={args.steps}",
                f"trainer.micro_batch_size={args.prompts}",
                "trainer.export=false",
                f"tracking.uri=sqlite:///{tmp}/mlflow.db",
                "tracking.log_model=false",
                "eval.enabled=false",
                f"rlvr.samples_per_prompt={args.n}",
                f"rlvr.max_new_tokens={args.tokens}",
                f"rlvr.beta={args.beta}",
            ],
        )
        result = fit(cfg)
        client = MlflowClient(tracking_uri=cfg.tracking.uri)
        print(f"GRPO {args.prompts} prompts × {args.n} samples, ≤ {args.tokens} new tokens, β={args.beta}")
        for name in FIGURES:
            history = client.get_metric_history(result.run_id, f"train/{name}")
            values = [m.value for m in sorted(history, key=lambda m: m.step)][1:]  # the first step warms up
            if values:
                print(
                    f"  {name:18s} median {statistics.median(values):9.3f}  "
                    f"(min {min(values):.3f}, max {max(values):.3f}, {len(values)} steps)"
                )


if __name__ == "__main__":
    main()
