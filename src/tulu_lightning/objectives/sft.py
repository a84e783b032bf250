"""Supervised finetuning (Tülu 3 stage 1).

data: chats (`messages`, allenai/tulu-3-sft-mixture's schema) validated, rendered, tokenized and masked once
      into the prepared store (`prepared.py`: labels on assistant turns + EOS; chats longer than
      `max_seq_length` dropped, or cut with keep_truncated), read in place, packed by their lengths column
loss: token NLL summed over the optimizer step, divided by the step's trained tokens (`mean`) or by its
      number of examples (`sum`, Tülu 3's setting: each sequence contributes its summed loss), both counted
      over every micro-batch and every rank, so the step's gradient does not depend on how it is split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from tulu_lightning.chat import IGNORE_INDEX
from tulu_lightning.config import ConfigError, RunConfig
from tulu_lightning.data import PackedRows, collate_packed, load_train_val, pack_rows
from tulu_lightning.models import load_causal_lm
from tulu_lightning.objectives.base import PostTrainingModule, StepDataModule, data_tokenizer
from tulu_lightning.prepared import Recipe, Store, prepare
from tulu_lightning.schemas import Schema, validate_splits


@dataclass
class SFTSection:
    reduction: str = "mean"  # mean | sum
    packing: bool = True  # padding-free packing of several examples per row
    last_turn_only: bool = False  # label only the last assistant turn


@dataclass
class SFTConfig(RunConfig):
    objective: str = "sft"
    sft: SFTSection = field(default_factory=SFTSection)


def validate(cfg: SFTConfig) -> None:
    if cfg.sft.reduction not in ("mean", "sum"):
        raise ConfigError(f"sft.reduction: expected 'mean' or 'sum', got {cfg.sft.reduction!r}")


def sum_token_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sum over positions of −log p(target) (positions whose target is IGNORE_INDEX excluded), in float32."""
    return F.cross_entropy(
        logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
    )


class SFTDataModule(StepDataModule):
    """Examples read from the prepared store (`prepared.py`) as their batches are built, packed by their lengths
    column."""

    def __init__(self, cfg: SFTConfig, tokenizer, store: Store):
        super().__init__(cfg.trainer, cfg.data.num_workers, cfg.data.shuffle_seed)
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.store = store
        self.counts.update(store.counts)
        self.val_rows = store.val_rows()  # normalised validation chats (generation accuracy reads them)

    @property
    def dropped_examples(self) -> int:
        """Training examples left out: too long (unless kept cut), or no trained token left after the cut."""
        return self.counts.get("dropped_examples", 0)

    def setup(self, stage: str | None = None) -> None:
        if self.train_items:
            return
        train = self.store.train
        if self.cfg.sft.packing:
            self.train_items = PackedRows(train, *pack_rows(train.lengths, self.cfg.data.max_seq_length))
        else:
            self.train_items = PackedRows.one_per_row(train)
        self.val_items = PackedRows.one_per_row(self.store.val)
        self.counts["train_rows"] = len(self.train_items)

    def collate(self, rows: list[list[dict]]) -> dict:
        batch = collate_packed(rows, self.tokenizer.pad_token_id)
        batch["num_target_tokens"] = int((batch["targets"] != IGNORE_INDEX).sum())
        batch["num_tokens"] = sum(len(e["input_ids"]) for examples in rows for e in examples)
        return batch


class SFTModule(PostTrainingModule):
    def __init__(self, cfg: SFTConfig, model, tokenizer):
        super().__init__(cfg.optim, cfg.trainer)
        self.cfg = cfg
        self.model = model
        self.tokenizer = tokenizer
        self._val_nll = self._val_tokens = 0.0

    def nll_sum(self, batch: dict) -> torch.Tensor:
        logits = self.model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
        return sum_token_nll(logits, batch["targets"])

    def training_step(self, micro_batches: list[dict], batch_idx: int) -> None:
        self.start_step_timer()
        local_tokens = sum(mb["num_target_tokens"] for mb in micro_batches)
        local_examples = sum(mb["num_examples"] for mb in micro_batches)
        denominator = self.global_sum(local_tokens if self.cfg.sft.reduction == "mean" else local_examples)
        nll_total = torch.zeros((), device=self.device)
        for batch in micro_batches:
            nll = self.nll_sum(batch)
            self.backward_scaled(nll / denominator)
            nll_total += nll.detach()
        stats = self.step_optimizer()
        global_nll = self.global_sum(nll_total)
        self.log_metrics(
            {
                "loss": global_nll / denominator,
                "token_loss": global_nll / self.global_sum(local_tokens),
                "tokens_per_sec": self.global_sum(sum(mb["num_tokens"] for mb in micro_batches))
                / self.step_seconds(),
                **stats,
            }
        )

    def on_validation_epoch_start(self) -> None:
        self._val_nll = self._val_tokens = 0.0

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._val_nll += float(self.nll_sum(batch))
        self._val_tokens += batch["num_target_tokens"]

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        if self._val_tokens:
            self.log("val/loss", self._val_nll / self._val_tokens, rank_zero_only=True)


def load_data(cfg: SFTConfig) -> tuple[list[dict], list[dict]]:
    """Validated chats: training and validation rows (these with ground truths when `eval.enabled`)."""
    train_rows, val_rows = load_train_val(cfg.data)
    val_schema = Schema("sft", verifiable=cfg.eval.enabled, default_verifier=cfg.eval.verifier)
    return validate_splits([(train_rows, Schema("sft")), (val_rows, val_schema)])


def recipe(cfg: SFTConfig) -> Recipe:
    """How the store tokenizes this config's chats (part of its key)."""
    return Recipe(
        kind="sft",
        max_length=cfg.data.max_seq_length,
        keep_truncated=cfg.data.keep_truncated,
        last_turn_only=cfg.sft.last_turn_only,
        val_verifiable=cfg.eval.enabled,
        default_verifier=cfg.eval.verifier,
    )


def prepare_data(cfg: SFTConfig, tokenizer) -> Store:
    """The config's chats validated and tokenized once into the prepared store (rank 0), or found there."""
    return prepare(cfg.data, recipe(cfg), tokenizer, cfg.data.prepared_dir, cfg.data.num_proc)


def build_tokenizer(cfg: SFTConfig):
    return data_tokenizer(cfg, load_data)


def build(cfg: SFTConfig):
    """Tokenizer -> prepared data (validated, tokenized once) -> model -> (LightningModule, LightningDataModule)."""
    tokenizer = build_tokenizer(cfg)
    store = prepare_data(cfg, tokenizer)
    model = load_causal_lm(cfg.model, tokenizer, seed=cfg.trainer.seed)
    datamodule = SFTDataModule(cfg, tokenizer, store)
    return SFTModule(cfg, model, tokenizer), datamodule
