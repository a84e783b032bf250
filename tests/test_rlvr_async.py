"""One-step off-policy overlap (`rlvr.async_mode`, objectives/offpolicy.py): the batch trained at step k was sampled
by the policy of step k − 1, and the update corrects for it with the behaviour policy's log-probs as π_old."""

import copy

import pytest
import torch
from test_rlvr_step import one_thread, rlvr_config  # noqa: F401  (the fixture is autouse)

from tulu_lightning.objectives.offpolicy import OneStepAhead
from tulu_lightning.objectives.rlvr import (
    clipped_policy_loss,
    group_advantages,
    kl_estimate,
    response_logits,
    token_logprobs,
)
from tulu_lightning.train import build_objective, load_run_config


def logprobs(model, batch, temperature):
    with torch.no_grad():
        return (
            token_logprobs(response_logits(model, batch), batch["responses"], temperature)
            * batch["response_mask"]
        )


def two_steps(cfg, lr: float = 0.5):
    """Two training steps through `OneStepAhead` (one process, a plain SGD step instead of the trainer's): returns
    per step the batch trained on, the policy before its update, the first minibatch's gradient and the update's
    statistics."""
    torch.manual_seed(cfg.trainer.seed)
    module, datamodule = build_objective(cfg)
    datamodule.setup()
    sgd = torch.optim.SGD(module.model.parameters(), lr=lr)
    steps: list[dict] = []

    def recording_step():
        if "grads" not in steps[-1]:
            steps[-1]["grads"] = {
                n: p.grad.clone() for n, p in module.model.named_parameters() if p.grad is not None
            }
        sgd.step()
        sgd.zero_grad(set_to_none=True)
        return {}

    module.step_optimizer = recording_step
    module.global_sum = lambda value: torch.as_tensor(value, dtype=torch.float64)
    module.backward_scaled = lambda loss: loss.backward()
    overlap = OneStepAhead(module)
    overlap.start()
    try:
        for _ in range(2):
            batch = overlap.next_batch(datamodule.train_items)
            steps.append({"policy": copy.deepcopy(module.model)})
            module.score_rollout(batch)
            steps[-1]["batch"] = {
                k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in batch.items()
            }
            steps[-1]["update"] = module.update(batch)
    finally:
        overlap.close()
    return steps


def expected_gradient(cfg, policy, batch, old_logprobs):
    """The GRPO minibatch gradient from the formulas, with π_old given (and the batch's reference log-probs)."""
    r = cfg.rlvr
    policy = copy.deepcopy(policy)
    advantages, keep = group_advantages(batch["scores"], r.samples_per_prompt)
    loss_mask = batch["response_mask"] * keep.unsqueeze(1).float()
    new = token_logprobs(response_logits(policy, batch), batch["responses"], r.temperature)
    advantages = advantages.unsqueeze(1).expand_as(new)
    policy_loss, _, ratio = clipped_policy_loss(new, old_logprobs, advantages, r.clip_low, r.clip_high)
    loss = policy_loss * loss_mask
    if r.beta > 0:
        loss = loss + r.beta * kl_estimate(new, batch["ref_logprobs"], "k3") * loss_mask
    (loss.sum() / loss_mask.sum()).backward()
    return {n: p.grad for n, p in policy.named_parameters() if p.grad is not None}, ratio, loss_mask


def test_off_policy_step_is_corrected_by_the_behaviour_log_probs(tmp_path):
    cfg = rlvr_config(tmp_path, rlvr={"async_mode": True, "beta": 0.05})
    first, second = two_steps(cfg)
    # step 0: nothing was in flight, its batch was sampled by the policy it trains: ρ = 1 (float rounding apart)
    assert first["update"]["first_step_ratio_max_dev"] < 1e-5
    # step 1: its batch was sampled, and its π_old computed, by the policy before step 0's update
    batch = second["batch"]
    assert batch["trained"].float().mean() > 0  # some groups carry a signal
    behaviour = logprobs(first["policy"], batch, cfg.rlvr.temperature)
    torch.testing.assert_close(batch["old_logprobs"], behaviour, rtol=0, atol=1e-5)
    current = logprobs(second["policy"], batch, cfg.rlvr.temperature)
    grads, ratio, mask = expected_gradient(cfg, second["policy"], batch, batch["old_logprobs"])
    off_policy = float(((ratio - 1).abs() * mask).max())
    assert off_policy > 1e-3  # measured on the batch: the step is off-policy
    assert second["update"]["first_step_ratio_max_dev"] == pytest.approx(off_policy, rel=1e-4)
    for name, grad in grads.items():  # the trainer's gradient is the formula's with π_behaviour ...
        torch.testing.assert_close(second["grads"][name], grad, rtol=1e-4, atol=1e-6, msg=name)
    uncorrected, _, _ = expected_gradient(cfg, second["policy"], batch, current)  # ... not with π_θ detached
    difference = max(float((uncorrected[n] - g).abs().max() / g.abs().max()) for n, g in grads.items())
    assert difference > 1e-3


def test_ppo_keeps_the_behaviour_log_probs_as_pi_old(tmp_path):
    cfg = rlvr_config(tmp_path, "ppo", rlvr={"async_mode": True, "samples_per_prompt": 2})
    torch.manual_seed(0)
    module, datamodule = build_objective(cfg)
    datamodule.setup()
    overlap = OneStepAhead(module)
    overlap.start()
    try:
        batch = overlap.next_batch(datamodule.train_items)
        behaviour = batch["old_logprobs"].clone()
        with torch.no_grad():  # the policy moves on before the batch is scored
            for p in module.model.parameters():
                p.add_(0.01 * torch.randn_like(p))
        module.score_rollout(batch)
    finally:
        overlap.close()
    assert torch.equal(batch["old_logprobs"], behaviour)  # π_old (and the KL reward) are the behaviour's
    assert not torch.equal(module.logprobs_of(module.model, batch), behaviour)


class Losses:
    """Records `train/loss` and the first minibatch's ratio deviation per optimizer step (a Lightning callback)."""

    def __init__(self):
        from lightning.pytorch.callbacks import Callback

        record = self.record = {}

        class Recorder(Callback):
            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
                metrics = trainer.callback_metrics
                record[trainer.global_step] = (
                    float(metrics["train/loss"]),
                    float(metrics["train/first_step_ratio_max_dev"]),
                )

        self.callback = Recorder()


def test_resume_trains_the_batch_that_was_in_flight(tmp_path):
    """A checkpoint waits for the batch in flight and stores it: the run resumed from it trains that batch first,
    and continues exactly as the uninterrupted run (same losses, same weights)."""
    from tulu_lightning.train import fit

    (tmp_path / "straight").mkdir()
    cfg = rlvr_config(
        tmp_path / "straight",
        prompts=8,
        trainer={"micro_batch_size": 4, "max_steps": 4, "checkpoint_every_n_steps": 2},
        rlvr={"async_mode": True, "samples_per_prompt": 4},
        optim={"lr": 1e-2, "scheduler": "constant", "warmup_ratio": 0.0},
    )
    straight_losses = Losses()
    straight = fit(cfg, callbacks=[straight_losses.callback])
    checkpoints = sorted((tmp_path / "straight").rglob("step2.ckpt"))
    assert len(checkpoints) == 1
    saved = torch.load(checkpoints[0], weights_only=False)["rollout_in_flight"]
    assert saved["responses"].shape[0] == 16 and "generator_state" in saved  # 4 prompts × 4 samples
    record = straight_losses.record
    assert sorted(record) == [1, 2, 3, 4]
    assert record[1][1] < 1e-5 and min(record[step][1] for step in (2, 3, 4)) > 0  # on-, then off-policy

    branch_losses = Losses()
    overrides = [f"trainer.resume_from={checkpoints[0]}", f"trainer.output_dir={tmp_path / 'branch'}"]
    branch_cfg = load_run_config(str(tmp_path / "straight" / "config.yaml"), overrides)
    branch = fit(branch_cfg, callbacks=[branch_losses.callback])
    assert branch_losses.record == {step: record[step] for step in (3, 4)}
    expected = straight.module.model.state_dict()
    for name, value in branch.module.model.state_dict().items():
        assert torch.equal(value, expected[name]), name


def test_async_mode_is_off_by_default_and_on_in_the_8b_configs():
    from conftest import REPO

    from tulu_lightning.objectives.rlvr import RLVRSection

    assert RLVRSection().async_mode is False
    for name in ("rlvr_ppo_8b", "rlvr_grpo_8b"):  # open-instruct's async_mode default, kept by their commands
        assert load_run_config(str(REPO / "configs" / "tulu3" / f"{name}.yaml")).rlvr.async_mode is True
