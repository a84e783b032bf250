"""Our trainers against TRL's on the same model, data and settings, side by side on this machine.

    python benchmarks/vs_trl.py --model outputs/demo/sft/hf [--objectives sft dpo grpo ppo] [--rounds 3]
    python benchmarks/vs_trl.py --objectives grpo --sides ours ...   # some variants alone (before/after a change)

Every run is its own process with `--threads` torch threads, float32 on CPU (TRL defaults to bf16), a constant
LR and no warmup; the variants of an objective alternate (A B C D, then D C B A, ...) for `--rounds` rounds; a
run's figure is the median rate of its steps after the first (warm-up), the ratios are per round (median, min–max).

SFT (tokens/s: non-padding tokens of the examples trained): our tokenization of the demo SFT data (labels on the
assistant turns), `--batch` examples a step. "ours padded" (`sft.packing=false`) and TRL's `SFTTrainer` (padded,
and `padding_free=True`) are fed the same examples in the same order (TRL through a sequential sampler over our
first epoch's order, as `input_ids` + `completion_mask`), so their first-step losses (token-mean NLL of the
completion tokens) must agree; "ours packed" (our default) packs ~`--batch` examples into rows of 256 tokens:
other examples in its first step, its own loss.

DPO (pairs/s): the demo preference pairs, `--batch` pairs a step, sigmoid loss (ours `dpo`), β = 0.1; ours with the
reference cached before training (`dpo.reference=cached`) or live, TRL's `DPOTrainer` with
`precompute_ref_log_probs` or not (precomputing is not timed on either side). At the first step π = π_ref, so every
side's loss is ln 2 = 0.693147.

GRPO (samples/s): the demo recipe (configs/demo/rlvr_grpo.yaml) on the bundled RLVR prompts — `--prompts` ×
`--n` samples per step, at most `--tokens` new tokens, T = 1, β = 0.01, clip 0.2/0.28, centered advantages (TRL:
scale_rewards="none"), token-level loss (TRL: loss_type="dapo"), one optimizer step per rollout batch, lr 1e-4
constant — through our `fit` and through TRL's `GRPOTrainer` with our verifiers as its `reward_funcs` (α = 10 for
a verified answer). Both generate `prompts × n` sequences in one batch and forward them in one batch. Our reward
time is printed as a share of the step. At the first step ρ = 1 and π = π_ref, so each side's loss is −(mean of A
over the loss tokens): not 0 (A is centered per response, the mean is per token, and wrong answers run longer),
and not equal across sides: TRL keeps the tokens of the groups whose rewards are all equal in the count (we drop
those groups, as open-instruct), and the two sample different responses.

PPO (samples/s, issue 18's "PPO within 1.3× of our GRPO per sample"): our PPO (configs/demo/rlvr_ppo.yaml: a
value model, GAE, one sample per prompt) on `prompts × n` prompts against our GRPO (configs/demo/rlvr_grpo.yaml)
on `prompts` prompts × `n` samples: as many samples a step on both sides. "ours PPO" is like for like: the same
`--update-epochs` and `--minibatches` as the GRPO side (default 1 and 1, GRPO's recipe), so both make the same
optimizer steps per sample; the ratio the target is about is "ours PPO / ours GRPO". "ours PPO Tülu" runs PPO's
own recipe (4 epochs per rollout batch, as Tülu 3) for information: each epoch is a forward and backward of the
policy and the value model. The rest differs by algorithm, not by setting: PPO trains every sample (GRPO drops
the groups whose rewards are all equal), runs a value model, and prefills each of its prompts (GRPO prefills a
prompt once for its n samples). `async` (not run by default): our GRPO with `rlvr.async_mode` (the next batch
sampled in a thread while this one trains) against without.

Use the demo SFT model for GRPO and PPO (`make demo` writes it): a random model is never rewarded, every GRPO
group would be dropped. SFT and DPO run on any model of the demo's shape.
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


def ours_grpo(args, tmp: str, *overrides: str) -> dict:
    return ours_rlvr(args, tmp, "rlvr_grpo", args.prompts, args.n, *overrides)


def updates(epochs: int, minibatches: int, steps: int) -> list[str]:
    """Overrides for `epochs` × `minibatches` optimizer steps per rollout batch, `steps` rollout batches."""
    return [
        f"rlvr.update_epochs={epochs}",
        f"rlvr.num_minibatches={minibatches}",
        f"trainer.max_steps={steps * epochs * minibatches}",
    ]


def ours_rlvr(args, tmp: str, recipe: str, prompts: int, n: int, *overrides: str) -> dict:
    from mlflow import MlflowClient

    from tulu_lightning.train import fit, load_run_config

    batch = prompts * n
    cfg = load_run_config(
        str(REPO / "configs" / "demo" / f"{recipe}.yaml"),
        [
            f"model.name_or_path={args.model}",
            f"data.train_files=[{DEMO / 'rlvr_train.jsonl'}]",
            f"data.val_files=[{DEMO / 'rlvr_val.jsonl'}]",
            f"trainer.output_dir={tmp}/run",
            f"trainer.max_steps={args.steps}",
            f"trainer.micro_batch_size={prompts}",
            "trainer.export=false",
            f"tracking.uri=sqlite:///{tmp}/mlflow.db",
            "tracking.log_model=false",
            "eval.enabled=false",
            f"rlvr.samples_per_prompt={n}",
            f"rlvr.max_new_tokens={args.tokens}",
            f"rlvr.generation_batch_size={batch}",
            f"rlvr.forward_batch_size={batch}",
            *overrides,
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
    kept = history("groups_kept_frac")
    return {
        "rate": statistics.median(speeds[1:]),
        "first_loss": losses[0] if losses else None,
        "reward_share": statistics.median([r / s for r, s in zip(rewards[1:], step_seconds[1:])] or [0.0]),
        **({"groups_kept_frac": statistics.mean(kept)} if kept else {}),
    }


def trl_grpo(args, tmp: str) -> dict:
    from datasets import Dataset
    from transformers import AutoTokenizer
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

    batch = args.prompts * args.n
    config = GRPOConfig(
        **trl_settings(args, tmp, batch, lr=1e-4),
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
    )
    seconds, losses = trl_train(GRPOTrainer, args, config, data, tokenizer, reward_funcs=verifiable_reward)
    return {
        "rate": statistics.median(batch / s for s in seconds[1:]),
        "first_loss": losses[0] if losses else None,
    }


# --- SFT and DPO ------------------------------------------------------------------------------------------


def step_timer(units_of_batch):
    """A Lightning callback timing each training step (batch start to end) and counting its units."""
    from lightning.pytorch.callbacks import Callback

    class StepTimer(Callback):
        def __init__(self):
            self.rates: list[float] = []
            self.first_loss: float | None = None

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            self.started = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.rates.append(units_of_batch(batch) / (time.perf_counter() - self.started))
            if self.first_loss is None:
                self.first_loss = float(trainer.callback_metrics["train/loss"])

    return StepTimer()


def trl_settings(args, tmp: str, batch: int, lr: float) -> dict:
    """What every TRL run shares: `batch` rows a step, one process, float32 on CPU (TRL's default is bf16), a
    constant LR, no warmup or weight decay, a loss logged every step, nothing saved."""
    return {
        "output_dir": f"{tmp}/trl",
        "per_device_train_batch_size": batch,
        "gradient_accumulation_steps": 1,
        "learning_rate": lr,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
        "weight_decay": 0.0,
        "max_grad_norm": 1.0,
        "max_steps": args.steps,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "bf16": False,
        "seed": 0,
    }


def trl_train(trainer_class, args, config, data, tokenizer, **kwargs) -> tuple[list[float], list[float]]:
    """Train with a TRL trainer: (seconds of each step, the losses it logged)."""
    from transformers import TrainerCallback

    class StepTimes(TrainerCallback):
        def __init__(self):
            self.seconds: list[float] = []

        def on_step_begin(self, *unused, **kwargs):
            self.started = time.perf_counter()

        def on_step_end(self, *unused, **kwargs):
            self.seconds.append(time.perf_counter() - self.started)

    times = StepTimes()
    trainer = trainer_class(
        model=args.model,
        args=config,
        train_dataset=data,
        processing_class=tokenizer,
        callbacks=[times],
        **kwargs,
    )
    trainer.train()
    return times.seconds, [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def common_overrides(args, tmp: str) -> list[str]:
    return [
        f"model.name_or_path={args.model}",
        "model.tiny=null",
        f"trainer.output_dir={tmp}/run",
        f"trainer.max_steps={args.steps}",
        "trainer.max_epochs=null",
        "trainer.gradient_accumulation_steps=1",
        "trainer.export=false",
        "tracking.enabled=false",
        "eval.enabled=false",
        "data.val_files=[]",
        f"optim.lr={args.lr}",
        "optim.scheduler=constant",
        "optim.warmup_ratio=0.0",
        "optim.weight_decay=0.0",
        "optim.max_grad_norm=1.0",
    ]


def sft_config(args, tmp: str, packing: bool):
    from tulu_lightning.train import load_run_config

    rows = args.batch if not packing else max(1, args.batch // 4)  # ~4 demo examples fill a packed row of 256
    return load_run_config(
        str(REPO / "configs" / "demo" / "sft.yaml"),
        [
            *common_overrides(args, tmp),
            f"trainer.micro_batch_size={rows}",
            f"sft.packing={str(packing).lower()}",
        ],
    )


def sft_examples(args, tmp: str) -> tuple[list[dict], list[int]]:
    """Our tokenized SFT examples (input_ids, labels) and our first epoch's order (what TRL is fed)."""
    from tulu_lightning.data import StepSampler
    from tulu_lightning.train import build_objective

    cfg = sft_config(args, tmp, packing=False)
    _, datamodule = build_objective(cfg)
    datamodule.setup()
    train = datamodule.store.train
    examples = [train[i] for i in range(len(train))]
    sampler = StepSampler(len(examples), args.batch, 1, seed=cfg.data.shuffle_seed)
    order = [i for step in sampler.steps() for micro in step for i in micro]
    return examples, order


def ours_sft(args, tmp: str, packing: bool) -> dict:
    from tulu_lightning.train import fit

    timer = step_timer(lambda batch: sum(mb["num_tokens"] for mb in batch))
    fit(sft_config(args, tmp, packing), callbacks=[timer])
    return {"rate": statistics.median(timer.rates[1:]), "first_loss": timer.first_loss}


def trl_sft(args, tmp: str, padding_free: bool) -> dict:
    from datasets import Dataset
    from torch.utils.data import SequentialSampler
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    examples, order = sft_examples(args, tmp)
    data = Dataset.from_list(
        [
            {
                "input_ids": [int(t) for t in examples[i]["input_ids"]],
                "completion_mask": [int(label != -100) for label in examples[i]["labels"]],
            }
            for i in order
        ]
    )

    class InOurOrder(SFTTrainer):  # the same examples in every step as our padded run
        def _get_train_sampler(self, *unused, **kwargs):
            return SequentialSampler(self.train_dataset)

    config = SFTConfig(
        **trl_settings(args, tmp, args.batch, args.lr),
        padding_free=padding_free,
        packing=False,
        completion_only_loss=True,
        max_length=None,
    )
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    seconds, losses = trl_train(InOurOrder, args, config, data, tokenizer)
    lengths = [len(examples[i]["input_ids"]) for i in order]
    tokens = [sum(lengths[k * args.batch : (k + 1) * args.batch]) for k in range(len(seconds))]
    return {
        "rate": statistics.median(t / s for t, s in list(zip(tokens, seconds))[1:]),
        "first_loss": losses[0] if losses else None,
    }


def dpo_pairs(args) -> int:
    """The pairs a DPO run reads (the first ones of the file): its steps' worth, so that precomputing the reference
    (untimed, on both sides) does not dominate a short run."""
    return args.batch * (args.steps + 1)


def ours_dpo(args, tmp: str, reference: str) -> dict:
    from tulu_lightning.train import fit, load_run_config

    cfg = load_run_config(
        str(REPO / "configs" / "demo" / "dpo.yaml"),
        [
            *common_overrides(args, tmp),
            f"trainer.micro_batch_size={args.batch}",
            "dpo.loss_type=dpo",
            f"dpo.beta={DPO_BETA}",
            f"dpo.reference={reference}",
            f"dpo.reference_cache_dir={tmp}/reference_cache",
            f"data.max_train_samples={dpo_pairs(args)}",
        ],
    )
    timer = step_timer(lambda batch: args.batch)
    fit(cfg, callbacks=[timer])
    return {"rate": statistics.median(timer.rates[1:]), "first_loss": timer.first_loss}


def trl_dpo(args, tmp: str, precompute: bool) -> dict:
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from tulu_lightning.files import read_jsonl

    rows = read_jsonl(DEMO / "preference_train.jsonl")[: dpo_pairs(args)]
    data = Dataset.from_list(
        [
            {
                "prompt": r["chosen"][:-1],
                "chosen": r["chosen"][-1:],
                "rejected": r["rejected"][-1:],
            }
            for r in rows
        ]
    )
    config = DPOConfig(
        **trl_settings(args, tmp, args.batch, args.lr),
        loss_type="sigmoid",
        beta=DPO_BETA,
        precompute_ref_log_probs=precompute,
        max_length=None,
    )
    seconds, losses = trl_train(DPOTrainer, args, config, data, AutoTokenizer.from_pretrained(args.model))
    return {
        "rate": statistics.median(args.batch / s for s in seconds[1:]),
        "first_loss": losses[0] if losses else None,
    }


def ours_ppo(args, tmp: str, *overrides: str) -> dict:
    """Our PPO (the demo recipe: a value model) on as many samples per step as the GRPO runs, one sample per
    prompt."""
    return ours_rlvr(args, tmp, "rlvr_ppo", args.prompts * args.n, 1, *overrides)


TULU_PPO_EPOCHS = 4  # configs/demo/rlvr_ppo.yaml and Tülu 3: update epochs per rollout batch, one minibatch


DPO_BETA = 0.1
# objective -> variant -> (run, units of its rate)
VARIANTS = {
    "sft": {
        "ours packed": lambda a, t: ours_sft(a, t, packing=True),
        "ours padded": lambda a, t: ours_sft(a, t, packing=False),
        "TRL padding-free": lambda a, t: trl_sft(a, t, padding_free=True),
        "TRL padded": lambda a, t: trl_sft(a, t, padding_free=False),
    },
    "dpo": {
        "ours cached ref": lambda a, t: ours_dpo(a, t, "cached"),
        "ours live ref": lambda a, t: ours_dpo(a, t, "live"),
        "TRL precomputed ref": lambda a, t: trl_dpo(a, t, precompute=True),
        "TRL live ref": lambda a, t: trl_dpo(a, t, precompute=False),
    },
    "grpo": {"ours": lambda a, t: ours_grpo(a, t), "TRL": lambda a, t: trl_grpo(a, t)},
    "ppo": {  # matched: the same optimizer steps per rollout batch on both sides
        "ours PPO": lambda a, t: ours_ppo(a, t, *updates(a.update_epochs, a.minibatches, a.steps)),
        "ours GRPO": lambda a, t: ours_grpo(a, t, *updates(a.update_epochs, a.minibatches, a.steps)),
        "ours PPO Tülu": lambda a, t: ours_ppo(a, t, *updates(TULU_PPO_EPOCHS, 1, a.steps)),
    },
    "async": {
        "ours GRPO async": lambda a, t: ours_grpo(a, t, "rlvr.async_mode=true"),
        "ours GRPO": lambda a, t: ours_grpo(a, t),
    },
}
UNITS = {
    "sft": "tokens/s",
    "dpo": "pairs/s",
    "grpo": "samples/s",
    "ppo": "samples/s",
    "async": "samples/s",
}
# (numerator, denominator) variants whose ratio is printed
RATIOS = {
    "sft": [
        ("ours packed", "TRL padding-free"),
        ("ours packed", "TRL padded"),
        ("ours padded", "TRL padded"),
    ],
    "dpo": [
        ("ours cached ref", "TRL precomputed ref"),
        ("ours live ref", "TRL live ref"),
    ],
    "grpo": [("ours", "TRL")],
    "ppo": [("ours PPO", "ours GRPO"), ("ours PPO Tülu", "ours GRPO")],
    "async": [("ours GRPO async", "ours GRPO")],
}


def run_child(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        figures = VARIANTS[args.objective][args.run](args, tmp)
    print("RESULT " + json.dumps(figures))


def spawn(args, variant: str, objective: str) -> dict:
    command = [sys.executable, __file__, "--run", variant, "--objective", objective]
    for key in (
        "model",
        "steps",
        "prompts",
        "n",
        "tokens",
        "threads",
        "batch",
        "lr",
        "update_epochs",
        "minibatches",
    ):
        command += [f"--{key.replace('_', '-')}", str(getattr(args, key))]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        sys.exit(f"{variant} {objective} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "outputs" / "demo" / "sft" / "hf"))
    parser.add_argument(
        "--objectives",
        nargs="+",
        default=["sft", "dpo", "grpo", "ppo"],
        choices=list(VARIANTS),
    )
    parser.add_argument("--sides", nargs="+", help="variants to run (default: all of each objective)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32, help="SFT examples / DPO pairs per step")
    parser.add_argument("--lr", type=float, default=1e-4, help="SFT and DPO")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--update-epochs", type=int, default=1, help='PPO vs GRPO, both sides ("ours PPO Tülu": 4)'
    )
    parser.add_argument("--minibatches", type=int, default=1, help="PPO vs GRPO, both sides")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # a child process: the variant
    parser.add_argument("--objective", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        return run_child(args)

    print(
        f"GRPO/PPO: {args.prompts} prompts × {args.n} samples, ≤ {args.tokens} new tokens (PPO vs GRPO: "
        f"{args.update_epochs} epoch(s) × {args.minibatches} minibatch(es) both; PPO Tülu: {TULU_PPO_EPOCHS} "
        f"epochs); SFT/DPO: {args.batch} "
        f"examples/pairs a step; {args.steps} steps a run, {args.rounds} rounds, {args.threads} thread(s); "
        f"model {args.model}; load average {os.getloadavg()[0]:.1f}"
    )
    for objective in args.objectives:
        variants = [v for v in VARIANTS[objective] if not args.sides or v in args.sides]
        results: dict[str, list[dict]] = {variant: [] for variant in variants}
        for round_ in range(args.rounds):
            order = variants if round_ % 2 == 0 else list(reversed(variants))  # A B, then B A
            for variant in order:
                results[variant].append(spawn(args, variant, objective))
                print(
                    f"  {objective} round {round_ + 1} {variant}: {json.dumps(results[variant][-1])}",
                    flush=True,
                )
        for variant, runs in results.items():
            rates = [run["rate"] for run in runs]
            losses = [None if run["first_loss"] is None else round(run["first_loss"], 5) for run in runs]
            extra = ""
            if "reward_share" in runs[0]:
                extra = (
                    f", reward {100 * statistics.median(run['reward_share'] for run in runs):.2f}% of a step"
                )
            print(
                f"{objective} {variant}: {statistics.median(rates):8.1f} {UNITS[objective]} "
                f"(min {min(rates):.1f}, max {max(rates):.1f}), first-step loss {losses}{extra}"
            )
        for top, bottom in RATIOS[objective]:
            if top in results and bottom in results:
                ratios = [a["rate"] / b["rate"] for a, b in zip(results[top], results[bottom])]
                print(
                    f"{objective} {top} / {bottom}: {statistics.median(ratios):.2f}× "
                    f"(min {min(ratios):.2f}, max {max(ratios):.2f}, per round)"
                )
        ours = [v for v in results if v.startswith("ours")]
        theirs = [v for v in results if v.startswith("TRL")]
        if ours and theirs and (len(ours) > 1 or len(theirs) > 1):  # each side's best, round by round
            ratios = [
                max(results[v][i]["rate"] for v in ours) / max(results[v][i]["rate"] for v in theirs)
                for i in range(args.rounds)
            ]
            print(
                f"{objective} ours best / TRL best: {statistics.median(ratios):.2f}× "
                f"(min {min(ratios):.2f}, max {max(ratios):.2f}, per round)"
            )
        print(f"load average after {objective}: {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
