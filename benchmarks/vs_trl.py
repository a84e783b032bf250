"""Our trainer against TRL's on the same model, data and settings, side by side on this machine.

    python benchmarks/vs_trl.py --model outputs/demo/sft/hf [--rounds 3] [--steps 4] [--threads 1]
    python benchmarks/vs_trl.py --sides ours ...   # our figures alone (e.g. before and after a change)

GRPO (the objective implemented so far): the demo recipe (configs/demo/rlvr_grpo.yaml) on the bundled RLVR
prompts — `--prompts` × `--n` samples per step, at most `--tokens` new tokens, T = 1, β = 0.01, clip 0.2/0.28,
centered advantages (TRL: scale_rewards="none"), token-level loss (TRL: loss_type="dapo"), one optimizer step
per rollout batch, lr 1e-4 constant, float32 (TRL defaults to bf16) — through our `fit` and through TRL's
`GRPOTrainer` with our verifiers as its `reward_funcs` (α = 10 for a verified answer). Both generate
`prompts × n` sequences in one batch and forward them in one batch. Each run is its own process (`--threads`
torch threads); sides alternate, A B then B A, for `--rounds` rounds; a run's figure is the median samples/s of
its steps after the first (warm-up).

Prints each side's median samples/s, the ratio ours/TRL (median, with its min–max over the rounds), the
first-step loss of each side, and our reward time as a share of the step. At the first step ρ = 1 and π = π_ref,
so each side's loss is −(mean of A over the loss tokens): not 0 (A is centered per response, the mean is per
token, and wrong answers run longer), and not equal across sides: TRL keeps the tokens of the groups whose rewards
are all equal in the count (we drop those groups, as open-instruct), and the two sample different responses.

Use the demo SFT model (`make demo` writes it): a random model is never rewarded, every group would be dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "demo"
ALPHA = 10.0  # rlvr.verifiable_reward


def ours_grpo(args, tmp: str) -> dict:
    from mlflow import MlflowClient

    from tulu_lightning.train import fit, load_run_config

    batch = args.prompts * args.n
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
            f"rlvr.generation_batch_size={batch}",
            f"rlvr.forward_batch_size={batch}",
        ],
    )
    result = fit(cfg)
    client = MlflowClient(tracking_uri=cfg.tracking.uri)

    def history(name: str) -> list[float]:
        metrics = client.get_metric_history(result.run_id, f"train/{name}")
        return [m.value for m in sorted(metrics, key=lambda m: m.step)]

    speeds, rewards = history("samples_per_sec"), history("reward_seconds")
    step_seconds = [batch / speed for speed in speeds]
    losses = history("loss")
    return {
        "samples_per_sec": statistics.median(speeds[1:]),
        "first_loss": losses[0] if losses else None,
        "reward_share": statistics.median([r / s for r, s in zip(rewards[1:], step_seconds[1:])] or [0.0]),
        "groups_kept_frac": statistics.mean(history("groups_kept_frac")),
    }


def trl_grpo(args, tmp: str) -> dict:
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from tulu_lightning.chat import render
    from tulu_lightning.files import read_jsonl
    from tulu_lightning.rewards import verify_batch

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    rows = read_jsonl(DEMO / "rlvr_train.jsonl")
    data = Dataset.from_list(
        [
            {
                "prompt": render(tokenizer, row["messages"], add_generation_prompt=True),
                "ground_truth": row["ground_truth"],
                "verifier": row["dataset"],
            }
            for row in rows
        ]
    )

    def verifiable_reward(prompts, completions, ground_truth, verifier, **kwargs) -> list[float]:
        return [ALPHA * v.score for v in verify_batch(verifier, completions, ground_truth)]

    class StepTimes(TrainerCallback):
        def __init__(self):
            self.seconds: list[float] = []

        def on_step_begin(self, *unused, **kwargs):
            self.started = time.perf_counter()

        def on_step_end(self, *unused, **kwargs):
            self.seconds.append(time.perf_counter() - self.started)

    batch = args.prompts * args.n
    config = GRPOConfig(
        output_dir=f"{tmp}/trl",
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=1,
        num_generations=args.n,
        max_completion_length=args.tokens,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        beta=0.01,
        epsilon=0.2,
        epsilon_high=0.28,
        scale_rewards="none",
        loss_type="dapo",
        learning_rate=1e-4,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        max_steps=args.steps,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,  # TRL's default is bf16: we train in float32
        seed=0,
    )
    times = StepTimes()
    trainer = GRPOTrainer(
        model=args.model,
        reward_funcs=verifiable_reward,
        args=config,
        train_dataset=data,
        processing_class=tokenizer,
        callbacks=[times],
    )
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {
        "samples_per_sec": statistics.median(batch / s for s in times.seconds[1:]),
        "first_loss": losses[0] if losses else None,
    }


RUNS = {("ours", "grpo"): ours_grpo, ("trl", "grpo"): trl_grpo}


def run_child(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        figures = RUNS[(args.run, args.objective)](args, tmp)
    print("RESULT " + json.dumps(figures))


def spawn(args, side: str, objective: str) -> dict:
    command = [sys.executable, __file__, "--run", side, "--objective", objective]
    for key in ("model", "steps", "prompts", "n", "tokens", "threads"):
        command += [f"--{key}", str(getattr(args, key))]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        sys.exit(f"{side} {objective} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "outputs" / "demo" / "sft" / "hf"))
    parser.add_argument("--objectives", nargs="+", default=["grpo"], choices=["grpo"])
    parser.add_argument("--sides", nargs="+", default=["ours", "trl"], choices=["ours", "trl"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--run", choices=["ours", "trl"], help=argparse.SUPPRESS)  # a child process
    parser.add_argument("--objective", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        return run_child(args)

    print(
        f"{args.prompts} prompts × {args.n} samples, ≤ {args.tokens} new tokens, {args.steps} steps a run, "
        f"{args.rounds} rounds, {args.threads} thread(s); model {args.model}"
    )
    for objective in args.objectives:
        results: dict[str, list[dict]] = {side: [] for side in args.sides}
        for round_ in range(args.rounds):
            sides = args.sides if round_ % 2 == 0 else list(reversed(args.sides))  # A B, then B A
            for side in sides:
                results[side].append(spawn(args, side, objective))
                print(f"  round {round_ + 1} {side:4s} {json.dumps(results[side][-1])}", flush=True)
        for side, runs in results.items():
            speeds = [run["samples_per_sec"] for run in runs]
            losses = [run["first_loss"] for run in runs]
            extra = ""
            if side == "ours":
                share = statistics.median(run["reward_share"] for run in runs)
                extra = f", reward {100 * share:.2f}% of a step"
            print(
                f"{objective} {side:4s}: {statistics.median(speeds):7.1f} samples/s "
                f"(min {min(speeds):.1f}, max {max(speeds):.1f}), first-step loss {losses}{extra}"
            )
        if {"ours", "trl"} <= results.keys():
            ratios = [
                o["samples_per_sec"] / t["samples_per_sec"] for o, t in zip(results["ours"], results["trl"])
            ]
            print(
                f"{objective} ours/TRL: {statistics.median(ratios):.2f}× (min {min(ratios):.2f}, "
                f"max {max(ratios):.2f}, per round)"
            )


if __name__ == "__main__":
    main()
