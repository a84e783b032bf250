"""The RLVR step without its waste (issue 18) computes what the plain step computed.

The plain step, written out here from the formulas: every sampled row scored by the policy and the reference and
back-propagated (dropped GRPO groups through a zero loss mask), the old policy's log-probs from their own no-grad
forward, the reference's even at β = 0. The trainer's step skips all of that where it cannot change the result;
its first optimizer step's gradient and loss must be the plain step's."""

import copy
import json

import pytest
import torch
from conftest import DEMO_DATA, tiny_config, write_config

from tulu_lightning.config import ConfigError, TrainerConfig, epoch_limit
from tulu_lightning.models import frozen_copy
from tulu_lightning.objectives.rlvr import (
    clipped_policy_loss,
    clipped_value_loss,
    explained_variance,
    generalized_advantages,
    group_advantages,
    head_outputs,
    kl_estimate,
    kl_penalized_rewards,
    masked_whiten,
    response_logits,
    token_logprobs,
)
from tulu_lightning.train import build_objective, load_run_config

# "At most 2 words": about 2/3 of a random tiny model's 8-token samples pass, so a group of 3 is sometimes all
# right or all wrong (dropped) and sometimes mixed (trained).
TRUTH = json.dumps({"func_name": "validate_word_constraint", "N": 2, "quantifier": "at most"})


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny model gains nothing from threads, and on a busy 2-core machine they cost it several times over."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rlvr_config(tmp_path, objective: str = "grpo", prompts: int = 4, **sections):
    rows = [json.loads(line) for line in (DEMO_DATA / "rlvr_train.jsonl").read_text().splitlines()]
    path = tmp_path / "prompts.jsonl"
    path.write_text(
        "".join(
            json.dumps({**row, "ground_truth": TRUTH, "dataset": "ifeval"}) + "\n" for row in rows[:prompts]
        )
    )
    cfg = tiny_config(
        tmp_path,
        objective,
        "rlvr",
        data={"train_files": [str(path)], "val_files": [], "max_seq_length": 96},
        trainer={"micro_batch_size": prompts, "export": False},
        tracking={"enabled": False},
        eval={"enabled": False},
    )
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    cfg["rlvr"] = {"samples_per_prompt": 3, "max_new_tokens": 8, "temperature": 1.0, **cfg.get("rlvr", {})}
    return load_run_config(str(write_config(tmp_path, cfg)))


def first_step(cfg, on_score=None, prepare=None):
    """One rollout batch through the trainer's `generate`, `score_rollout` and `update` (one process, no
    optimizer: its steps record the gradient); returns (the trained models before it, what was seen, the
    module)."""
    torch.manual_seed(cfg.trainer.seed)
    module, datamodule = build_objective(cfg)
    datamodule.setup()
    if prepare is not None:
        prepare(module)
    start = [copy.deepcopy(m) for m in module.trainable_modules()]  # the policy (and PPO's value model)
    seen: dict = {"loss_sums": []}
    minibatch_loss = module.minibatch_loss

    def recording_loss(chunk):
        out = minibatch_loss(chunk)
        if "grads" not in seen:
            seen["loss_sums"].append(out[0].detach())
        return out

    def recording_step():
        if "grads" not in seen:
            seen["grads"] = {
                f"{index}.{n}": p.grad.clone()
                for index, m in enumerate(module.trainable_modules())
                for n, p in m.named_parameters()
                if p.grad is not None
            }
        for m in module.trainable_modules():
            m.zero_grad(set_to_none=True)
        return {}

    module.minibatch_loss, module.step_optimizer = recording_loss, recording_step
    module.global_sum = lambda value: torch.as_tensor(value, dtype=torch.float64)
    module.backward_scaled = lambda loss: loss.backward()
    batch = module.generate(datamodule.train_items)
    module.score_rollout(batch)
    if on_score is not None:
        on_score(batch)
    seen["batch"] = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    seen["update"] = module.update(batch)
    seen["metrics"] = module.rollout_metrics(batch)
    return start, seen, module


def plain_first_step(cfg, policy, batch):
    """The plain GRPO update's first optimizer step: its gradient, its loss summed over its tokens, and the
    rollout's `kl` metric (over the rows trained)."""
    r = cfg.rlvr
    policy = copy.deepcopy(policy)
    reference = frozen_copy(policy)
    mask = batch["response_mask"]
    with torch.no_grad():
        old = token_logprobs(response_logits(policy, batch), batch["responses"], r.temperature) * mask
        ref = token_logprobs(response_logits(reference, batch), batch["responses"], r.temperature) * mask
    advantages, keep = group_advantages(batch["scores"], r.samples_per_prompt, cfg.grpo.std_normalize)
    loss_mask = mask * keep.unsqueeze(1).float()
    order = torch.randperm(len(mask), generator=torch.Generator().manual_seed(cfg.trainer.seed))
    rows = order.chunk(r.num_minibatches)[0]
    minibatch = {k: batch[k][rows] for k in ("input_ids", "attention_mask", "responses")}
    logprobs = token_logprobs(response_logits(policy, minibatch), minibatch["responses"], r.temperature)
    advantages = advantages[rows].unsqueeze(1).expand_as(logprobs)
    policy_loss, _, _ = clipped_policy_loss(logprobs, old[rows], advantages, r.clip_low, r.clip_high)
    kl = kl_estimate(logprobs, ref[rows], cfg.grpo.kl_estimator)
    loss_sum = ((policy_loss + r.beta * kl) * loss_mask[rows]).sum()
    (loss_sum / loss_mask[rows].sum()).backward()
    return {
        "grads": {f"0.{n}": p.grad for n, p in policy.named_parameters() if p.grad is not None},
        "loss_sum": float(loss_sum),
        "kl": float((old - ref).sum(1)[keep].mean()),
        "groups_kept_frac": float(keep.float().mean()),
    }


@pytest.mark.parametrize(
    "rlvr",
    [
        {"update_epochs": 1, "num_minibatches": 1, "beta": 0.05},  # π_old from the update's own forward
        {"update_epochs": 2, "num_minibatches": 2, "beta": 0.05},  # π_old scored, two minibatches
        {"update_epochs": 1, "num_minibatches": 1, "beta": 0.0},  # no reference model
    ],
    ids=["one-minibatch", "two-minibatches", "beta-0"],
)
def test_grpo_step_matches_the_plain_step(tmp_path, rlvr):
    steps = rlvr["update_epochs"] * rlvr["num_minibatches"]
    cfg = rlvr_config(tmp_path, trainer={"max_steps": steps}, rlvr=rlvr)
    start, seen, module = first_step(cfg)
    batch = seen["batch"]
    assert 0 < batch["trained"].float().mean() < 1  # groups dropped and kept: where the step skips work
    plain = plain_first_step(cfg, start[0], batch)
    assert seen["grads"].keys() == plain["grads"].keys()
    for name, grad in plain["grads"].items():  # the same sums in another order: float rounding apart
        torch.testing.assert_close(seen["grads"][name], grad, rtol=1e-5, atol=1e-7, msg=name)
    assert float(sum(seen["loss_sums"])) == pytest.approx(plain["loss_sum"], abs=1e-4)  # Σ ±A·ρ ≈ 0
    assert seen["metrics"]["groups_kept_frac"] == plain["groups_kept_frac"]
    assert seen["update"]["optimizer_steps"] == steps
    if rlvr["beta"] == 0:
        assert module.ref_model is None and "kl" not in seen["metrics"] and "kl_loss" not in seen["update"]
    else:
        assert seen["metrics"]["kl"] == pytest.approx(plain["kl"], abs=1e-5)


def plain_ppo_first_step(cfg, policy, value_model, batch):
    """The plain PPO update's first optimizer step: π_old and V_old from their own no-grad forwards, then the
    first minibatch's forward and backward of both models; its gradients, loss sum and rollout metrics."""
    r, p = cfg.rlvr, cfg.ppo
    policy, value_model = copy.deepcopy(policy), copy.deepcopy(value_model)
    reference = frozen_copy(policy)
    mask = batch["response_mask"]
    with torch.no_grad():
        old = token_logprobs(response_logits(policy, batch), batch["responses"], r.temperature) * mask
        ref = token_logprobs(response_logits(reference, batch), batch["responses"], r.temperature) * mask
        old_values = head_outputs(value_model, batch)[:, :-1] * mask
    rewards = kl_penalized_rewards(batch["scores"], old, ref, mask, r.beta)
    advantages, returns = generalized_advantages(rewards, old_values, mask, p.gamma, p.lam)
    advantages = masked_whiten(advantages, mask)
    order = torch.randperm(len(mask), generator=torch.Generator().manual_seed(cfg.trainer.seed))
    rows = order.chunk(r.num_minibatches)[0]
    minibatch = {k: batch[k][rows] for k in ("input_ids", "attention_mask", "responses")}
    logprobs = token_logprobs(response_logits(policy, minibatch), minibatch["responses"], r.temperature)
    values = head_outputs(value_model, minibatch)[:, :-1]
    policy_loss, _, _ = clipped_policy_loss(logprobs, old[rows], advantages[rows], r.clip_low, r.clip_high)
    value_loss, _ = clipped_value_loss(values, old_values[rows], returns[rows], p.value_clip)
    loss_sum = ((policy_loss + p.value_loss_coef * value_loss) * mask[rows]).sum()
    (loss_sum / mask[rows].sum()).backward()
    grads = {
        f"{index}.{n}": param.grad
        for index, m in enumerate([policy, value_model])
        for n, param in m.named_parameters()
        if param.grad is not None
    }
    return {
        "grads": grads,
        "loss_sum": float(loss_sum),
        "kl": float((old - ref).sum(1).mean()),
        "explained_variance": explained_variance(old_values, returns, mask),
    }


@pytest.mark.parametrize(
    "rlvr",
    [
        {"update_epochs": 1, "num_minibatches": 1},  # one pass: π_old and V_old from the update's forward
        {"update_epochs": 1, "num_minibatches": 1, "forward_batch_size": 5},  # scored first, in chunks
        {"update_epochs": 2, "num_minibatches": 2},  # scored first: the update moves the weights
    ],
    ids=["one-pass", "chunked", "two-minibatches"],
)
def test_ppo_step_matches_the_plain_step(tmp_path, rlvr):
    steps = rlvr["update_epochs"] * rlvr["num_minibatches"]
    cfg = rlvr_config(tmp_path, "ppo", trainer={"max_steps": steps}, rlvr={"beta": 0.05, **rlvr})
    scored = []
    start, seen, module = first_step(
        cfg,
        on_score=lambda batch: scored.append("old_values" in batch),
        prepare=lambda module: torch.nn.init.normal_(
            module.value_model.score.weight
        ),  # V ≠ 0 (head starts 0)
    )
    assert scored == [not module.one_pass(seen["batch"])]
    assert module.one_pass(seen["batch"]) == (rlvr == {"update_epochs": 1, "num_minibatches": 1})
    plain = plain_ppo_first_step(cfg, *start, seen["batch"])
    assert seen["grads"].keys() == plain["grads"].keys()
    assert any(name.startswith("1.") for name in plain["grads"])  # the value model's too
    for name, grad in plain["grads"].items():  # the same sums in another order: float rounding apart
        torch.testing.assert_close(seen["grads"][name], grad, rtol=1e-5, atol=1e-6, msg=name)
    assert float(sum(seen["loss_sums"])) == pytest.approx(plain["loss_sum"], rel=1e-5, abs=1e-5)
    assert seen["metrics"]["kl"] == pytest.approx(plain["kl"], abs=1e-5)
    assert seen["metrics"]["explained_variance"] == pytest.approx(plain["explained_variance"], abs=1e-5)
    assert seen["update"]["optimizer_steps"] == steps


def test_ppo_without_reference_at_beta_0_scores_as_with_it(tmp_path):
    cfg = rlvr_config(tmp_path, "ppo", rlvr={"beta": 0.0, "samples_per_prompt": 2})
    torch.manual_seed(0)
    module, datamodule = build_objective(cfg)
    datamodule.setup()
    assert module.ref_model is None
    batch = module.generate(datamodule.train_items)
    module.score_rollout(batch)
    # the plain scoring: the reference's log-probs in the KL reward term, times β = 0
    mask = batch["response_mask"]
    old = module.logprobs_of(module.model, batch)
    ref = module.logprobs_of(frozen_copy(module.model), batch)
    values = module.values_of(module.value_model, batch)[:, :-1] * mask
    rewards = kl_penalized_rewards(batch["scores"], old, ref, mask, 0.0)
    advantages, returns = generalized_advantages(rewards, values, mask, cfg.ppo.gamma, cfg.ppo.lam)
    assert torch.equal(batch["old_logprobs"], old) and "ref_logprobs" not in batch
    assert torch.equal(batch["advantages"], masked_whiten(advantages, mask))
    assert torch.equal(batch["returns"], returns)


def test_every_rank_runs_as_many_forward_chunks(tmp_path):
    """FSDP2 forwards are collective: a rank that trains fewer rows (more dropped groups) than another tops its
    forward up with dropped rows (loss mask 0) to the other's number of chunks."""
    cfg = rlvr_config(tmp_path, rlvr={"forward_batch_size": 2})
    module, _ = build_objective(cfg)
    batch = {
        "loss_mask": torch.tensor([[1.0], [0.0], [0.0], [1.0], [0.0], [0.0]]),
        "trained": torch.tensor([True, False, False, True, False, False]),
    }
    rows, spare = module.trained_rows(batch)
    assert rows.tolist() == [0, 3] and spare.tolist() == [1, 2, 4, 5]
    assert [part.tolist() for part, _ in module.chunks(batch, rows, spare)] == [[0, 3]]  # one process
    module.world_size, module.global_max = lambda: 2, lambda count: 3  # another rank has 3 chunks to run
    chunks = list(module.chunks(batch, rows, spare))
    assert [part.tolist() for part, _ in chunks] == [[0, 3], [1, 2], [4]]
    assert [chunk["loss_mask"].sum().item() for _, chunk in chunks] == [2.0, 0.0, 0.0]


def test_max_steps_sizes_an_rlvr_run(tmp_path):
    """One rollout batch per pass over the 2 prompts: `max_steps` = 3 trains 3 passes (a random policy is never
    rewarded here: each step has nothing to learn from and still counts)."""
    from tulu_lightning.train import fit

    cfg = rlvr_config(tmp_path, prompts=2, trainer={"max_steps": 3})
    cfg.data.train_files = [str(DEMO_DATA / "rlvr_train.jsonl")]
    cfg.data.max_train_samples = 2
    result = fit(cfg)
    assert result.module.trainer.global_step == 3 and result.module.trainer.current_epoch == 3


def test_epoch_limit_follows_max_steps():
    assert epoch_limit(TrainerConfig()) == 1
    assert epoch_limit(TrainerConfig(max_steps=10)) == -1  # max_steps alone sizes the run
    assert epoch_limit(TrainerConfig(max_steps=10, max_epochs=2)) == 2  # whichever ends it first


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.max_epochs=-1", "trainer.max_steps: a run with trainer.max_epochs=-1"),
        ("trainer.max_steps=6", "trainer.max_steps: .* expected a multiple of 4, got 6"),
    ],
)
def test_run_length_errors_name_the_key(tmp_path, override, message):
    rlvr_config(tmp_path, "ppo")  # writes config.yaml; 4 update epochs: 4 optimizer steps per rollout batch
    with pytest.raises(ConfigError, match=message):
        load_run_config(str(tmp_path / "config.yaml"), [override])
