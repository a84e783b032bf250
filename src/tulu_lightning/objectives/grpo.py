"""GRPO on verifiable rewards, as current open-instruct (grpo_fast) runs it.

advantage  n samples per prompt; A = r − mean(group) ("centered"), or / std(group) (`std_normalize`);
           groups whose rewards are all equal are dropped (no signal, only noise from the KL term)
loss       per token: max(−A·ρ, −A·clip(ρ, 1 − 0.2, 1 + 0.28)) + β·KL̂(π ‖ π_ref) (k1/k2/k3, k3 default),
           summed over the minibatch's tokens and divided by their number (token-level normalisation)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from tulu_lightning.config import ConfigError, RunConfig
from tulu_lightning.models import load_causal_lm
from tulu_lightning.objectives.rlvr import (
    KL_ESTIMATORS,
    PromptDataModule,
    RLVRModule,
    RLVRSection,
    group_advantages,
    kl_estimate,
    load_prompt_rows,
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
class GRPOSection:
    std_normalize: bool = False  # divide the centered advantage by the group's std
    kl_estimator: str = "k3"  # k1 | k2 | k3


@dataclass
class GRPOConfig(RunConfig):
    objective: str = "grpo"
    rlvr: RLVRSection = field(default_factory=lambda: RLVRSection(samples_per_prompt=8, clip_high=0.28))
    grpo: GRPOSection = field(default_factory=GRPOSection)


def validate(cfg: GRPOConfig) -> None:
    validate_rlvr(cfg)
    if cfg.rlvr.samples_per_prompt < 2:
        raise ConfigError("rlvr.samples_per_prompt: GRPO needs a group of at least 2 samples per prompt")
    if cfg.grpo.kl_estimator not in KL_ESTIMATORS:
        raise ConfigError(
            f"grpo.kl_estimator: expected one of {KL_ESTIMATORS}, got {cfg.grpo.kl_estimator!r}"
        )


class GRPOModule(RLVRModule):
    @torch.no_grad()
    def score_rollout(self, batch: dict) -> None:
        """Advantages first: the dropped groups are then neither scored nor trained on. With one epoch of one
        minibatch, the update's forward gives the old log-probs (no scoring forward of the policy)."""
        r = self.cfg.rlvr
        advantages, keep = group_advantages(
            batch["scores"].to(self.device), r.samples_per_prompt, self.cfg.grpo.std_normalize
        )
        batch["advantages"] = advantages.unsqueeze(1).expand_as(batch["response_mask"]).contiguous()
        batch["loss_mask"] = batch["response_mask"] * keep.unsqueeze(1).float()
        batch["kept_frac"] = keep.float()
        batch["trained"] = keep
        if "old_logprobs" not in batch and (
            r.update_epochs > 1 or r.num_minibatches > 1
        ):  # async: behaviour's
            batch["old_logprobs"] = self.logprobs_of(self.model, batch)
        self.reference_logprobs(batch)

    def minibatch_loss(self, chunk: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        policy_loss, logprobs, stats = self.policy_terms(chunk)
        mask = chunk["loss_mask"]
        stats["policy_loss"] = (policy_loss.detach() * mask).sum()
        if self.ref_model is None:  # β = 0
            return (policy_loss * mask).sum(), stats
        kl = kl_estimate(logprobs, chunk["ref_logprobs"], self.cfg.grpo.kl_estimator)
        stats["kl_loss"] = (kl.detach() * mask).sum()
        return ((policy_loss + self.cfg.rlvr.beta * kl) * mask).sum(), stats

    def rollout_metrics(self, batch: dict) -> dict[str, float]:
        return {**super().rollout_metrics(batch), "groups_kept_frac": float(batch["kept_frac"].mean())}


def build(cfg: GRPOConfig):
    tokenizer = build_tokenizer(cfg)
    store = prepare_data(cfg, tokenizer)
    model = load_causal_lm(cfg.model, tokenizer, seed=cfg.trainer.seed)
    return GRPOModule(cfg, model, tokenizer), PromptDataModule(cfg, tokenizer, store)
