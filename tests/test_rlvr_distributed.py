"""GRPO on two CPU processes (FSDP2 over gloo): the ranks drop different groups, so they train different numbers
of rows, and FSDP2's forwards are collective — every rank tops its forward chunks up with dropped rows (loss mask 0)
to the other's count. The first optimizer step's gradient must be the one of the GRPO loss over both ranks' rows,
computed here in one process from the formulas."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import DEMO_DATA, tiny_config, write_config
from tests.test_distributed import run_python
from tulu_lightning.config import DataConfig
from tulu_lightning.data import StepSampler
from tulu_lightning.models import frozen_copy
from tulu_lightning.objectives.rlvr import (
    clipped_policy_loss,
    group_advantages,
    kl_estimate,
    response_logits,
    token_logprobs,
)
from tulu_lightning.train import build_objective, load_run_config

pytestmark = pytest.mark.distributed

# "At most 2 words": about 2/3 of a random tiny model's 8-token samples pass, so most groups of 4 are mixed (kept);
# "at least 1000 words" never passes (every group dropped). Rank 0 gets one prompt of the first kind and three of
# the second, rank 1 four of the first: rank 0 trains fewer rows (forward chunks) than rank 1.
MIXED = json.dumps({"func_name": "validate_word_constraint", "N": 2, "quantifier": "at most"})
NEVER = json.dumps({"func_name": "validate_word_constraint", "N": 1000, "quantifier": "at least"})

# Runs in each of the two processes (Lightning relaunches this script for rank 1): records, per rank, the first
# rollout batch as scored, the forward chunks of the first update, and the first step's full gradient.
RECORDER = """
import sys
import torch
from lightning.pytorch.callbacks import Callback
from tulu_lightning.export import full_state_dict
from tulu_lightning.train import fit, load_run_config


class Record(Callback):
    def on_train_start(self, trainer, module):
        state = {"initial": full_state_dict(module.model), "chunks": 0}
        score_rollout, chunks, step_optimizer = module.score_rollout, module.chunks, module.step_optimizer

        def recording_score(batch):
            score_rollout(batch)
            if "batch" not in state:
                state["batch"] = {k: v.cpu() for k, v in batch.items() if isinstance(v, torch.Tensor)}

        def counting_chunks(batch, rows, spare):
            for part, chunk in chunks(batch, rows, spare):
                if "grads" not in state:
                    state["chunks"] += 1
                yield part, chunk

        def recording_step():
            if "grads" not in state:  # full_tensor is a collective: every rank gathers, in the same order
                state["grads"] = {
                    name: (p.grad.full_tensor() if hasattr(p.grad, "full_tensor") else p.grad).cpu()
                    for name, p in module.model.named_parameters()
                }
                torch.save(state, f"{sys.argv[2]}/rank{trainer.global_rank}.pt")
            return step_optimizer()

        module.score_rollout, module.chunks, module.step_optimizer = recording_score, counting_chunks, recording_step


fit(load_run_config(sys.argv[1]), callbacks=[Record()])
"""


def two_rank_grpo(tmp_path, prompts, trainer: dict, **sections) -> dict:
    """A tiny GRPO run on `prompts`, two ranks under FSDP2, no export, tracking or evaluation."""
    return tiny_config(
        tmp_path,
        "grpo",
        "rlvr",
        data={"train_files": [str(prompts)], "val_files": [], "max_seq_length": 96},
        trainer={"devices": 2, "strategy": "fsdp2", "export": False, **trainer},
        tracking={"enabled": False},
        eval={"enabled": False},
        **sections,
    )


def grpo_loss_sum(cfg, policy, reference, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ over the loss tokens of GRPO's per-token loss, their number) for one rank's batch, from the formulas
    (one epoch of one minibatch: π_old is the policy itself, detached)."""
    r = cfg.rlvr
    advantages, keep = group_advantages(batch["scores"], r.samples_per_prompt)
    mask = batch["response_mask"] * keep.unsqueeze(1).float()
    logprobs = token_logprobs(response_logits(policy, batch), batch["responses"], r.temperature)
    with torch.no_grad():
        ref = token_logprobs(response_logits(reference, batch), batch["responses"], r.temperature)
    advantages = advantages.unsqueeze(1).expand_as(logprobs)
    policy_loss, _, _ = clipped_policy_loss(logprobs, logprobs.detach(), advantages, r.clip_low, r.clip_high)
    kl = kl_estimate(logprobs, ref, "k3")
    return ((policy_loss + r.beta * kl) * mask).sum(), mask.sum()


def test_two_ranks_dropping_different_groups_train_the_global_grpo_step(tmp_path):
    rows = [json.loads(line) for line in (DEMO_DATA / "rlvr_train.jsonl").read_text().splitlines()[:8]]
    first_step = [
        StepSampler(8, 4, 1, rank, 2, seed=DataConfig().shuffle_seed).steps()[0][0] for rank in (0, 1)
    ]
    truths = {i: MIXED for i in first_step[1] + first_step[0][:1]}  # the rest of rank 0's: NEVER
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(
            json.dumps({**row, "ground_truth": truths.get(i, NEVER), "dataset": "ifeval"}) + "\n"
            for i, row in enumerate(rows)
        )
    )
    cfg = two_rank_grpo(
        tmp_path,
        prompts,
        trainer={"micro_batch_size": 4, "max_steps": 2},
        rlvr={"samples_per_prompt": 4, "max_new_tokens": 8, "forward_batch_size": 2, "beta": 0.05},
    )
    config = write_config(tmp_path, cfg)
    (tmp_path / "recorder.py").write_text(RECORDER)
    run_python(str(tmp_path / "recorder.py"), str(config), str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=False) for rank in (0, 1)]

    trained = [int(rank["batch"]["trained"].sum()) for rank in ranks]
    assert 0 < trained[0] < trained[1], trained  # the ranks drop different groups ...
    assert ranks[0]["chunks"] == ranks[1]["chunks"]  # ... and still run as many forwards (the top-up)
    needed = 2 * -(-min(trained) // cfg["rlvr"]["forward_batch_size"])  # reference pass + update, fewer rows
    assert ranks[0]["chunks"] > needed

    run_cfg = load_run_config(str(config))
    model = build_objective(run_cfg)[0].model
    model.load_state_dict(ranks[0]["initial"])
    reference = frozen_copy(model)
    sums, tokens = zip(*(grpo_loss_sum(run_cfg, model, reference, rank["batch"]) for rank in ranks))
    (sum(sums) / sum(tokens)).backward()
    for name, param in model.named_parameters():
        torch.testing.assert_close(ranks[0]["grads"][name], param.grad, rtol=1e-4, atol=1e-6, msg=name)
        assert torch.equal(ranks[0]["grads"][name], ranks[1]["grads"][name]), name


# async_mode on two ranks: records, per rank, the initial weights, the batch scored at the second step (sampled in
# the worker thread by the behaviour copy, one update behind) and the policy's weights at that step.
ASYNC_RECORDER = """
import sys
import torch
from lightning.pytorch.callbacks import Callback
from tulu_lightning.export import full_state_dict
from tulu_lightning.train import fit, load_run_config


class Record(Callback):
    def on_train_start(self, trainer, module):
        state = {"initial": full_state_dict(module.model, every_rank=True), "scored": 0}
        score_rollout = module.score_rollout

        def recording_score(batch):
            if state["scored"] == 1:  # a collective, at the same point on both ranks
                state["weights"] = full_state_dict(module.model, every_rank=True)
            score_rollout(batch)
            if state["scored"] == 1:
                state["batch"] = {k: v.cpu() for k, v in batch.items() if isinstance(v, torch.Tensor)}
                torch.save(state, f"{sys.argv[2]}/rank{trainer.global_rank}.pt")
            state["scored"] += 1

        module.score_rollout = recording_score


fit(load_run_config(sys.argv[1]), callbacks=[Record()])
"""


def test_async_mode_on_two_ranks_corrects_with_the_gathered_behaviour_policy(tmp_path):
    """Under FSDP2 the behaviour copy is refreshed from the gathered (full) weights, and samples in a thread with
    no collective: the run finishes on both ranks, and the second step's batch carries the log-probs of the
    weights one update behind (the initial ones), not of the policy it trains."""
    prompts = tmp_path / "prompts.jsonl"
    rows = [json.loads(line) for line in (DEMO_DATA / "rlvr_train.jsonl").read_text().splitlines()[:8]]
    prompts.write_text(
        "".join(json.dumps({**row, "ground_truth": MIXED, "dataset": "ifeval"}) + "\n" for row in rows)
    )
    cfg = two_rank_grpo(
        tmp_path,
        prompts,
        trainer={"micro_batch_size": 2, "max_steps": 3},
        optim={"lr": 0.05},
        rlvr={"samples_per_prompt": 4, "max_new_tokens": 8, "forward_batch_size": 4, "async_mode": True},
    )
    config = write_config(tmp_path, cfg)
    (tmp_path / "recorder.py").write_text(ASYNC_RECORDER)
    run_python(str(tmp_path / "recorder.py"), str(config), str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=False) for rank in (0, 1)]

    module = build_objective(load_run_config(str(config)))[0]
    for rank in ranks:
        batch, mask = rank["batch"], rank["batch"]["response_mask"]
        module.model.load_state_dict(rank["initial"])
        behaviour = module.local_logprobs(module.model, batch)
        torch.testing.assert_close(batch["old_logprobs"], behaviour, rtol=1e-4, atol=1e-5)
        module.model.load_state_dict(rank["weights"])
        current = module.local_logprobs(module.model, batch)
        assert ((current - batch["old_logprobs"]).abs() * mask).max() > 1e-3  # off-policy: the ratio is not 1
    assert all(torch.equal(ranks[0]["weights"][k], ranks[1]["weights"][k]) for k in ranks[0]["weights"])
