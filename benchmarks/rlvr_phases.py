"""Where an RLVR step's time goes, phase by phase: our PPO and GRPO on vs_trl.py's PPO-vs-GRPO settings.

    python benchmarks/rlvr_phases.py --model outputs/demo/sft/hf [--update-epochs 1] [--steps 3]

Seconds per rollout batch (the mean over the steps after the first), one torch thread, float32 on CPU: generation,
the no-grad scoring forwards (the policy's π_old, the reference's, the value model's V_old), the update's forwards
of the policy and the value model with grad, its backward (both models: one loss) and the optimizer steps;
"other" is the rest of the step (reward, advantages, logging). Timers wrap the trainer's methods, nothing else
changes. As in vs_trl.py, PPO samples `prompts × n` prompts once each and GRPO `prompts` prompts `n` times, both
with `--update-epochs` × `--minibatches` optimizer steps per rollout batch. Both run in this process, one after
the other: compare shares and ratios, not absolute seconds, on a shared machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vs_trl  # this folder's script: its runs

from tulu_lightning.objectives import ppo, rlvr
from tulu_lightning.rollout import HFRollout

PHASES = [
    "generation",
    "policy scoring fwd",
    "reference fwd",
    "value scoring fwd",
    "update policy fwd",
    "update value fwd",
    "update backward",
    "optimizer steps",
]


class PhaseTimer:
    """Wraps the trainer's methods with timers; `steps` holds each training step's seconds per phase."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.steps: list[dict[str, float]] = []

    def wrap(self, owner, name: str, phase) -> None:
        """Time `owner.name` under `phase` (a name, or a function of the call's arguments giving one; None: not
        timed)."""
        function = getattr(owner, name)

        def timed(*args, **kwargs):
            label = phase(*args, **kwargs) if callable(phase) else phase
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                if label is not None:
                    self.seconds[label] += time.perf_counter() - started

        setattr(owner, name, timed)

    def install(self) -> None:
        self.wrap(HFRollout, "generate", "generation")
        self.wrap(
            rlvr.RLVRModule,
            "logprobs_of",
            lambda module, model, batch: (
                "reference fwd" if model is module.ref_model else "policy scoring fwd"
            ),
        )
        self.wrap(ppo.PPOModule, "values_of", "value scoring fwd")
        self.wrap(rlvr.RLVRModule, "policy_forward", "update policy fwd")
        # the value model's update forward is the one `head_outputs` call made with grad
        self.wrap(ppo, "head_outputs", lambda *_: "update value fwd" if torch.is_grad_enabled() else None)
        self.wrap(rlvr.RLVRModule, "backward_scaled", "update backward")
        self.wrap(rlvr.RLVRModule, "step_optimizer", "optimizer steps")
        training_step = rlvr.RLVRModule.training_step

        def timed_step(module, *args, **kwargs):
            before, started = dict(self.seconds), time.perf_counter()
            out = training_step(module, *args, **kwargs)
            step = {k: v - before.get(k, 0.0) for k, v in self.seconds.items()}
            step["step"] = time.perf_counter() - started
            self.steps.append(step)
            return out

        rlvr.RLVRModule.training_step = timed_step

    def mean_after_first(self, steps: list[dict[str, float]]) -> dict[str, float]:
        later = steps[1:] or steps
        return {k: statistics.mean(s.get(k, 0.0) for s in later) for k in [*PHASES, "step"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(vs_trl.REPO / "outputs" / "demo" / "sft" / "hf"))
    parser.add_argument("--steps", type=int, default=3, help="rollout batches a run")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--update-epochs", type=int, default=1)
    parser.add_argument("--minibatches", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    timer = PhaseTimer()
    timer.install()
    means = {}
    for name, run in (("PPO", vs_trl.ours_ppo), ("GRPO", vs_trl.ours_grpo)):
        first = len(timer.steps)
        with tempfile.TemporaryDirectory() as tmp:
            run(args, tmp, *vs_trl.updates(args.update_epochs, args.minibatches, args.steps))
        means[name] = timer.mean_after_first(timer.steps[first:])
    samples = args.prompts * args.n
    print(
        f"{samples} samples a step ({args.prompts} prompts × {args.n} for GRPO, {samples} × 1 for PPO), "
        f"{args.update_epochs} epoch(s) × {args.minibatches} minibatch(es), ≤ {args.tokens} new tokens"
    )
    print(f"{'phase':20s} {'PPO s':>7s} {'share':>6s} {'GRPO s':>7s} {'share':>6s}")
    for phase in [*PHASES, "other", "step"]:
        row = []
        for name in ("PPO", "GRPO"):
            m = means[name]
            seconds = m["step"] - sum(m[p] for p in PHASES) if phase == "other" else m[phase]
            row.append(f"{seconds:7.3f} {100 * seconds / m['step']:5.1f}%")
        print(f"{phase:20s} {' '.join(row)}")
    print(f"PPO / GRPO time per sample: {means['PPO']['step'] / means['GRPO']['step']:.2f}×")


if __name__ == "__main__":
    main()
