"""Direct Preference Optimization (Tülu 3 stage 2) and its variants.

data       preference pairs through the SFT chat template (`preference.py`): labels on the assistant turns
logps      log π(y|x) summed over the labelled tokens of each sequence; `dpo_norm` and `simpo` divide by the
           number of labelled tokens (length normalisation)
reference  the starting policy, frozen: either kept in memory (`reference: live`) or its log-probs computed once
           before training and cached on disk, keyed by model, data and settings (`reference: cached`, Tülu 3's
           `dpo_tune_cache`), so no reference model occupies the accelerator while training
loss       per pair, below; averaged over every pair of the optimizer step (all micro-batches, all ranks)
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from tulu_lightning.chat import IGNORE_INDEX
from tulu_lightning.config import ConfigError, RunConfig, check_range
from tulu_lightning.models import disable_dropout, frozen_copy, load_causal_lm
from tulu_lightning.objectives.base import data_tokenizer
from tulu_lightning.objectives.preference import (
    PairwiseModule,
    PreferenceDataModule,
    halves,
    load_pairs,
    pairs_recipe,
    prepare_pairs,
)
from tulu_lightning.prepared import Recipe, Store

LOSS_TYPES = ("dpo", "dpo_norm", "simpo", "ipo")


@dataclass
class DPOSection:
    loss_type: str = "dpo_norm"  # dpo | dpo_norm (Tülu 3) | simpo | ipo
    beta: float = 5.0  # Tülu 3 8B: 5 with dpo_norm (0.1 is usual for plain dpo)
    label_smoothing: float = 0.0  # ε of conservative DPO (dpo, dpo_norm, simpo)
    simpo_gamma_beta_ratio: float = 0.3  # SimPO's target margin γ / β
    concatenated_forward: bool = True  # chosen and rejected in one forward; false: two (less memory)
    reference: str = "cached"  # cached | live
    reference_cache_dir: str = "outputs/reference_cache"  # cached: where the reference log-probs are kept
    last_turn_only: bool = False  # label only the last assistant turn of each side


@dataclass
class DPOConfig(RunConfig):
    objective: str = "dpo"
    dpo: DPOSection = field(default_factory=DPOSection)


def validate(cfg: DPOConfig) -> None:
    d = cfg.dpo
    if d.loss_type not in LOSS_TYPES:
        raise ConfigError(f"dpo.loss_type: expected one of {LOSS_TYPES}, got {d.loss_type!r}")
    if d.reference not in ("cached", "live"):
        raise ConfigError(f"dpo.reference: expected 'cached' or 'live', got {d.reference!r}")
    check_range("dpo.beta", d.beta, gt=0)
    check_range("dpo.label_smoothing", d.label_smoothing, ge=0, lt=0.5)
    check_range("dpo.simpo_gamma_beta_ratio", d.simpo_gamma_beta_ratio, ge=0)


# --- the losses: per pair, from per-sequence log-probs ------------------------------------------------------


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DPO (Rafailov et al. 2023) with conservative label smoothing ε (Mitchell 2023):
        h = (log π(y_c) − log π_ref(y_c)) − (log π(y_r) − log π_ref(y_r))
        loss = −(1 − ε) log σ(β h) − ε log σ(−β h)
    Given mean per-token log-probs instead of sums, this is Tülu 3's length-normalised `dpo_norm`.
    Returns (loss, chosen reward β(log π − log π_ref)(y_c), rejected reward) per pair."""
    chosen_rewards = beta * (policy_chosen - ref_chosen)
    rejected_rewards = beta * (policy_rejected - ref_rejected)
    margin = chosen_rewards - rejected_rewards
    loss = -(1 - label_smoothing) * F.logsigmoid(margin) - label_smoothing * F.logsigmoid(-margin)
    return loss, chosen_rewards, rejected_rewards


def ipo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """IPO (Azar et al. 2023), on sequence log-probs: loss = (h − 1/(2β))², h as in DPO; rewards as in DPO."""
    h = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    loss = (h - 1 / (2 * beta)) ** 2
    return loss, beta * (policy_chosen - ref_chosen), beta * (policy_rejected - ref_rejected)


def simpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    beta: float,
    gamma_beta_ratio: float,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SimPO (Meng et al. 2024), reference-free, on mean per-token log-probs, with target margin γ = ratio·β:
        loss = −(1 − ε) log σ(β(log π(y_c) − log π(y_r)) − γ) − ε log σ(−(…))
    Returns (loss, β log π(y_c), β log π(y_r)) per pair."""
    chosen_rewards, rejected_rewards = beta * policy_chosen, beta * policy_rejected
    logits = chosen_rewards - rejected_rewards - gamma_beta_ratio * beta
    loss = -(1 - label_smoothing) * F.logsigmoid(logits) - label_smoothing * F.logsigmoid(-logits)
    return loss, chosen_rewards, rejected_rewards


def preference_loss(
    cfg: DPOSection, policy: torch.Tensor, reference: torch.Tensor | None, tokens: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The configured loss from summed log-probs `policy`, `reference` and labelled-token counts `tokens`, each
    [2B] laid out as [chosen_1..B, rejected_1..B]. Returns (loss, chosen reward, rejected reward), each [B]."""
    if cfg.loss_type in ("dpo_norm", "simpo"):
        policy = policy / tokens
        reference = reference / tokens if reference is not None else None
    policy_chosen, policy_rejected = policy.chunk(2)
    if cfg.loss_type == "simpo":
        return simpo_loss(
            policy_chosen, policy_rejected, cfg.beta, cfg.simpo_gamma_beta_ratio, cfg.label_smoothing
        )
    ref_chosen, ref_rejected = reference.chunk(2)
    if cfg.loss_type == "ipo":
        return ipo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, cfg.beta)
    return dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, cfg.beta, cfg.label_smoothing)


def sequence_logprobs(model, batch: dict) -> torch.Tensor:
    """Σ_t log π(target_t) over each row's labelled tokens, in float32: [rows]."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    nll = F.cross_entropy(
        logits.flatten(0, 1).float(), batch["targets"].flatten(), ignore_index=IGNORE_INDEX, reduction="none"
    )
    return -nll.view_as(batch["targets"]).sum(1)


def labelled_tokens(batch: dict) -> torch.Tensor:
    return (batch["targets"] != IGNORE_INDEX).sum(1).float()


# --- the module -----------------------------------------------------------------------------------------


class DPOModule(PairwiseModule):
    def __init__(self, cfg: DPOConfig, model, tokenizer):
        super().__init__(cfg.optim, cfg.trainer)
        self.cfg = cfg
        self.model = model
        self.tokenizer = tokenizer
        disable_dropout(self.model)
        self.uses_reference = cfg.dpo.loss_type != "simpo"
        live = self.uses_reference and cfg.dpo.reference == "live"
        self.ref_model = frozen_copy(model) if live else None

    def sharded_modules(self) -> list[torch.nn.Module]:
        return [*self.trainable_modules(), *([self.ref_model] if self.ref_model is not None else [])]

    # --- log-probs of a pair batch ---

    def policy_logprobs(self, batch: dict) -> torch.Tensor:
        if self.cfg.dpo.concatenated_forward:
            return sequence_logprobs(self.model, batch)
        return torch.cat([sequence_logprobs(self.model, half) for half in halves(batch)])

    @torch.no_grad()
    def reference_logprobs(self, batch: dict) -> torch.Tensor | None:
        if not self.uses_reference:
            return None
        if "reference" in batch:  # cached: [B, 2] -> [chosen_1..B, rejected_1..B]
            return batch["reference"].T.flatten().float()
        return sequence_logprobs(self.ref_model, batch)

    def pair_statistics(self, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Per-pair loss (with grad) and the step's per-pair statistics summed over the batch (no grad)."""
        policy = self.policy_logprobs(batch)
        reference = self.reference_logprobs(batch)
        loss, chosen_rewards, rejected_rewards = preference_loss(
            self.cfg.dpo, policy, reference, labelled_tokens(batch)
        )
        policy_chosen, policy_rejected = policy.detach().chunk(2)
        stats = {
            "loss": loss.detach().sum(),
            "rewards/chosen": chosen_rewards.detach().sum(),
            "rewards/rejected": rejected_rewards.detach().sum(),
            "rewards/accuracy": (chosen_rewards > rejected_rewards).float().sum(),
            "rewards/margin": (chosen_rewards - rejected_rewards).detach().sum(),
            "logps/chosen": policy_chosen.sum(),
            "logps/rejected": policy_rejected.sum(),
            # does the policy itself prefer the chosen answer (its summed log-prob is higher)?
            "preference_accuracy": (policy_chosen > policy_rejected).float().sum(),
        }
        if reference is not None:
            ref_chosen, ref_rejected = reference.chunk(2)
            stats["ref_preference_accuracy"] = (ref_chosen > ref_rejected).float().sum()
        return loss, stats

    # --- cached reference ---

    def on_fit_start(self) -> None:
        if self.uses_reference and self.cfg.dpo.reference == "cached":
            attach_cached_reference(self, self.trainer.datamodule)


def reference_cache_key(cfg: DPOConfig, datamodule: PreferenceDataModule) -> str:
    """A hash of what the reference log-probs depend on: the starting model (its weight files, or the tiny
    model's config and seed), the tokenized pairs (tokenizer, chat template, truncation, labels) and numerics."""
    digest = hashlib.sha256()
    settings = {
        "model": cfg.model.name_or_path,
        "tiny": asdict(cfg.model.tiny) if cfg.model.tiny and cfg.model.name_or_path is None else None,
        "seed": cfg.trainer.seed if cfg.model.name_or_path is None else None,
        "dtype": cfg.model.dtype,
        "precision": cfg.trainer.precision,
        "last_turn_only": cfg.dpo.last_turn_only,
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    if cfg.model.name_or_path and Path(cfg.model.name_or_path).is_dir():
        for path in sorted(Path(cfg.model.name_or_path).glob("*.safetensors")) + sorted(
            Path(cfg.model.name_or_path).glob("*.bin")
        ):
            digest.update(path.name.encode())
            with path.open("rb") as f:
                while chunk := f.read(1 << 24):
                    digest.update(chunk)
    # the tokenized pairs, both splits, in order: the prepared store's key says all they depend on
    digest.update(datamodule.store.directory.name.encode())
    return digest.hexdigest()[:24]


@torch.no_grad()
def compute_reference(module: DPOModule, datamodule: PreferenceDataModule, items: list[dict]) -> torch.Tensor:
    """[len(items), 2] summed log-probs (chosen, rejected) under the module's current (= starting) policy.
    Ranks split the pairs and sum their results; each runs the same number of forwards (FSDP2 collectives)."""
    trainer = module.trainer
    rank, world = trainer.global_rank, trainer.world_size
    size = module.cfg.trainer.micro_batch_size
    shard = list(range(rank, len(items), world))
    forwards = math.ceil(math.ceil(len(items) / world) / size)
    out = torch.zeros(len(items), 2, dtype=torch.float64, device=module.device)
    was_training = module.model.training
    module.model.eval()
    for step in range(forwards):
        indices = shard[step * size : (step + 1) * size]
        batch = datamodule.collate([items[i] for i in indices] or items[:1])  # a rank out of rows still runs
        batch = {k: v.to(module.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        with trainer.precision_plugin.forward_context():
            logps = sequence_logprobs(module.model, batch)
        if indices:
            out[indices] = logps.view(2, -1).T.double()
    module.model.train(was_training)
    return module.global_sum(out).float().cpu()


def attach_cached_reference(module: DPOModule, datamodule: PreferenceDataModule) -> None:
    """Load the reference log-probs from the cache, or compute and save them (before any update), and attach
    them to every training and validation pair."""
    cfg, trainer = module.cfg, module.trainer
    key = reference_cache_key(cfg, datamodule)
    path = Path(cfg.dpo.reference_cache_dir) / f"{key}.pt"
    exists = trainer.strategy.broadcast(path.exists())
    if exists:
        cache = torch.load(path, map_location="cpu", weights_only=True)
    elif trainer.ckpt_path is not None:
        raise ConfigError(
            f"dpo.reference_cache_dir: resuming needs the reference log-probs of the starting model, but {path} "
            "is missing (the resumed weights are no longer the reference)"
        )
    else:
        cache = {
            "train": compute_reference(module, datamodule, datamodule.train_items),
            "val": compute_reference(module, datamodule, datamodule.val_items),
        }
        if trainer.is_global_zero:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".tmp")
            torch.save(cache, partial)
            partial.replace(path)
        trainer.strategy.barrier()
    for split in ("train", "val"):
        datamodule.attach_reference(split, cache[split])
    if module.logger is not None and trainer.is_global_zero:
        module.logger.experiment.set_tag(module.logger.run_id, "reference_cache", str(path.resolve()))


load_data = load_pairs


def build_tokenizer(cfg: DPOConfig):
    return data_tokenizer(cfg, load_pairs)


def recipe(cfg: DPOConfig) -> Recipe:
    return pairs_recipe(cfg, cfg.dpo.last_turn_only)


def prepare_data(cfg: DPOConfig, tokenizer) -> Store:
    return prepare_pairs(cfg, tokenizer, cfg.dpo.last_turn_only)


def build(cfg: DPOConfig):
    """Tokenizer -> prepared pairs -> policy (the reference is its frozen copy or cached log-probs) -> module,
    data."""
    tokenizer = build_tokenizer(cfg)
    store = prepare_data(cfg, tokenizer)
    model = load_causal_lm(cfg.model, tokenizer, seed=cfg.trainer.seed)
    return DPOModule(cfg, model, tokenizer), PreferenceDataModule(cfg, tokenizer, store)
