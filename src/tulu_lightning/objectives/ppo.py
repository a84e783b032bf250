"""PPO on verifiable rewards, as Tülu 3 ran it (open-instruct ppo_vllm_thread_ray_gtrl).

reward     per token −β (log π_old − log π_ref); at the last token + α·verified (α = 10), −10 instead when the
           response has no EOS (`rlvr.non_eos_penalty`), + a reward model's score (`ppo.reward_model`, off)
advantage  GAE(γ = 1, λ = 0.95) over the value model's V, then whitened over the batch's response tokens
loss       clipped policy loss (ε = 0.2) + 0.1 × clipped value loss (ε_v = 0.2), token-level means;
           K = 4 epochs per rollout batch; dropout off
value      initialised from the reward model (`ppo.value_model`, an AutoModelForSequenceClassification
           directory), else from the policy's weights with a fresh zero head; trained as its own optimizer
           group, with its own gradient clip and LR (`ppo.value_lr`, default `optim.lr`), as open-instruct's
           second DeepSpeed engine, so a large value gradient never shrinks the policy's step
one pass   with one epoch of one minibatch, in one forward chunk, the update's forwards of the policy and the
           value model are π_old's and V_old's: the rewards and advantages are computed from their detached outputs
           and no rollout forward of either model runs (same step, float rounding apart: tests/test_rlvr_step.py)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from tulu_lightning.config import ConfigError, RunConfig, check_range, require_model_dir
from tulu_lightning.models import frozen_copy, load_causal_lm
from tulu_lightning.objectives.base import OptimizerGroup
from tulu_lightning.objectives.rlvr import (
    PromptDataModule,
    RLVRModule,
    RLVRSection,
    clipped_value_loss,
    explained_variance,
    generalized_advantages,
    head_outputs,
    kl_penalized_rewards,
    load_prompt_rows,
    load_scalar_model,
    masked_whiten,
    prepare_prompts,
    prompt_recipe,
    prompt_tokenizer,
    validate_rlvr,
)

load_data = load_prompt_rows
build_tokenizer = prompt_tokenizer
prepare_data = prepare_prompts
recipe = prompt_recipe


@dataclass
class PPOSection:
    value_model: str | None = None  # HF dir of a reward model; None: policy weights + fresh scalar head
    reward_model: str | None = None  # add this reward model's score at the last token (off, as in Tülu 3)
    gamma: float = 1.0  # discount of future rewards per token (GAE)
    lam: float = 0.95  # GAE λ: bias/variance trade-off of the advantage
    whiten_advantages: bool = True  # normalise advantages to mean 0, std 1 over the batch
    value_clip: float = 0.2  # value predictions clipped to old value ± this in the value loss
    value_loss_coef: float = 0.1  # weight of the value loss
    value_lr: float | None = None  # the value model's peak LR (its own optimizer); None: optim.lr


@dataclass
class PPOConfig(RunConfig):
    objective: str = "ppo"
    rlvr: RLVRSection = field(default_factory=lambda: RLVRSection(update_epochs=4, non_eos_penalty=True))
    ppo: PPOSection = field(default_factory=PPOSection)


def validate(cfg: PPOConfig) -> None:
    validate_rlvr(cfg)
    if cfg.ppo.value_lr is not None and cfg.ppo.value_lr <= 0:
        raise ConfigError(f"ppo.value_lr: must be > 0, got {cfg.ppo.value_lr}")
    for key in ("gamma", "lam"):
        check_range(f"ppo.{key}", getattr(cfg.ppo, key), ge=0, le=1)
    for key in ("value_clip", "value_loss_coef"):
        check_range(f"ppo.{key}", getattr(cfg.ppo, key), ge=0)
    require_model_dir("ppo.value_model", cfg.ppo.value_model)
    require_model_dir("ppo.reward_model", cfg.ppo.reward_model)


class PPOModule(RLVRModule):
    def __init__(self, cfg: PPOConfig, model, tokenizer, value_model, reward_model=None):
        super().__init__(cfg, model, tokenizer)
        self.value_model = value_model
        self.reward_model = reward_model

    def trainable_modules(self) -> list[torch.nn.Module]:
        return [self.model, self.value_model]

    def optimizer_groups(self) -> list[OptimizerGroup]:
        value_lr = self.cfg.ppo.value_lr if self.cfg.ppo.value_lr is not None else self.optim_cfg.lr
        return [
            OptimizerGroup("policy", [self.model], self.optim_cfg),
            OptimizerGroup("value", [self.value_model], replace(self.optim_cfg, lr=value_lr)),
        ]

    def sharded_modules(self) -> list[torch.nn.Module]:
        extra = [self.reward_model] if self.reward_model is not None else []
        return [*super().sharded_modules(), *extra]

    @torch.no_grad()
    def values_of(self, model, batch: dict) -> torch.Tensor:
        """The scalar head's outputs [N, L + 1] (PPO trains on every row)."""
        return torch.cat(
            [head_outputs(model, chunk) for _, chunk in self.chunks(batch, *self.trained_rows(batch))]
        )

    def one_pass(self, batch: dict) -> bool:
        """Whether the update's own forward can serve as the rollout's policy and value forwards: with one epoch
        of one minibatch the update starts from the rollout's weights, so its forward *is* π_old and V_old; and
        the advantages are whitened over the whole batch, so the batch must be one forward chunk (every rank has
        as many rows: all ranks decide alike)."""
        r = self.cfg.rlvr
        one_chunk = len(batch["scores"]) <= r.forward_batch_size
        return r.update_epochs == 1 and r.num_minibatches == 1 and one_chunk

    @torch.no_grad()
    def score_rollout(self, batch: dict) -> None:
        """The reference's log-probs and the sequence scores; then π_old's log-probs (unless async_mode brought
        the behaviour's), V_old and the advantages — or, in one pass, the update's forward gives those."""
        mask = batch["response_mask"]
        batch["loss_mask"] = mask
        self.reference_logprobs(batch)
        scores = batch["scores"].to(self.device)
        if self.reward_model is not None:
            last = mask.sum(1).long()  # column after the last response token
            rm_scores = self.values_of(self.reward_model, batch)[torch.arange(len(scores)), last]
            scores = scores + rm_scores
        batch["sequence_rewards"] = scores
        if self.one_pass(batch):
            return
        if "old_logprobs" not in batch:  # async_mode: the behaviour policy's, already there
            batch["old_logprobs"] = self.logprobs_of(self.model, batch)
        batch["old_values"] = self.values_of(self.value_model, batch)[:, :-1] * mask
        self.fill_advantages(batch)

    def fill_advantages(self, rows: dict) -> None:
        """`advantages` (GAE over the KL-penalised rewards, whitened over `rows`) and `returns` of `rows`: the
        batch, or the one-pass chunk that holds all of it, from its `old_logprobs` and `old_values`."""
        p, mask = self.cfg.ppo, rows["response_mask"]
        rewards = kl_penalized_rewards(
            rows["sequence_rewards"], rows["old_logprobs"], rows.get("ref_logprobs"), mask, self.cfg.rlvr.beta
        )
        advantages, returns = generalized_advantages(rewards, rows["old_values"], mask, p.gamma, p.lam)
        rows["advantages"] = masked_whiten(advantages, mask) if p.whiten_advantages else advantages
        rows["returns"] = returns

    def minibatch_loss(self, chunk: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        forward = self.policy_forward(chunk)
        values = head_outputs(self.value_model, chunk)[:, :-1]
        if "advantages" not in chunk:  # one pass: this forward is the rollout's policy and value
            mask = chunk["response_mask"]
            chunk.setdefault("old_logprobs", forward[1].detach() * mask)
            chunk["old_values"] = values.detach() * mask
            self.fill_advantages(chunk)
        policy_loss, _, stats = self.policy_terms(chunk, forward)
        value_loss, value_clipped = clipped_value_loss(
            values, chunk["old_values"], chunk["returns"], self.cfg.ppo.value_clip
        )
        mask = chunk["loss_mask"]
        loss = ((policy_loss + self.cfg.ppo.value_loss_coef * value_loss) * mask).sum()
        stats.update(
            policy_loss=(policy_loss.detach() * mask).sum(),
            value_loss=(value_loss.detach() * mask).sum(),
            value_clip_frac=(value_clipped.float() * mask).sum(),
        )
        return loss, stats

    def rollout_metrics(self, batch: dict) -> dict[str, float]:
        mask = batch["response_mask"]
        return {
            **super().rollout_metrics(batch),
            "explained_variance": explained_variance(batch["old_values"], batch["returns"], mask),
        }


def build(cfg: PPOConfig):
    tokenizer = build_tokenizer(cfg)
    store = prepare_data(cfg, tokenizer)
    model = load_causal_lm(cfg.model, tokenizer, seed=cfg.trainer.seed)
    value_model = load_scalar_model(cfg.ppo.value_model, model)
    reward_model = (
        frozen_copy(load_scalar_model(cfg.ppo.reward_model, model)) if cfg.ppo.reward_model else None
    )
    return PPOModule(cfg, model, tokenizer, value_model, reward_model), PromptDataModule(
        cfg, tokenizer, store
    )
