"""Supervised finetuning (Tülu 3 stage 1).

data: chats (`messages`) -> Tülu chat template -> labels on assistant turns + EOS -> packed rows
loss: token NLL summed over the optimizer step, divided by the step's trained tokens (`mean`) or by its
      number of examples (`sum`, Tülu 3's setting: each sequence contributes its summed loss), both counted
      over every micro-batch and every rank, so the step's gradient does not depend on how it is split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from tulu_lightning.chat import IGNORE_INDEX, tokenize_chat
from tulu_lightning.config import ConfigError, RunConfig
from tulu_lightning.data import collate_packed, load_train_val, pack_rows, require_fields
from tulu_lightning.models import load_causal_lm, load_tokenizer
from tulu_lightning.objectives.base import PostTrainingModule, StepDataModule


@dataclass
class SFTSection:
    reduction: str = "mean"  # mean | sum
    packing: bool = True  # padding-free packing of several examples per row
    last_turn_only: bool = False  # label only the last assistant turn
    add_bos: bool = False  # prepend the tokenizer's BOS when the chat template does not


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
    def __init__(self, cfg: SFTConfig, tokenizer, train_rows: list[dict], val_rows: list[dict]):
        super().__init__(cfg.trainer, cfg.data.num_workers, cfg.data.shuffle_seed)
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.train_rows, self.val_rows = train_rows, val_rows
        self.dropped_examples = 0  # examples with no trained token left after truncation

    def setup(self, stage: str | None = None) -> None:
        if self.train_items:
            return
        train_examples = self.tokenize(self.train_rows)
        self.val_items = [[example] for example in self.tokenize(self.val_rows)]
        if self.cfg.sft.packing:
            bins = pack_rows([len(e["input_ids"]) for e in train_examples], self.cfg.data.max_seq_length)
            self.train_items = [[train_examples[i] for i in row] for row in bins]
        else:
            self.train_items = [[example] for example in train_examples]

    def tokenize(self, rows: list[dict]) -> list[dict]:
        examples = []
        for row in rows:
            chat = tokenize_chat(
                self.tokenizer,
                row["messages"],
                self.cfg.data.max_seq_length,
                last_turn_only=self.cfg.sft.last_turn_only,
                add_bos=self.cfg.sft.add_bos,
            )
            if chat.num_trained_tokens == 0:
                self.dropped_examples += 1
                continue
            examples.append({"input_ids": chat.input_ids, "labels": chat.labels})
        return examples

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

    def on_train_start(self) -> None:
        data = self.trainer.datamodule
        if self.logger is not None and self.trainer.is_global_zero:
            counts = {
                "data/train_rows": len(data.train_items),
                "data/dropped_examples": data.dropped_examples,
            }
            self.logger.log_metrics(counts, step=0)

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


def build(cfg: SFTConfig):
    """Rows -> tokenizer -> model -> (LightningModule, LightningDataModule)."""
    train_rows, val_rows = load_train_val(cfg.data)
    require_fields(train_rows, ["messages"], "training data")
    require_fields(val_rows, ["messages"], "validation data")
    tokenizer = load_tokenizer(cfg.model, texts=_chat_texts(train_rows))
    model = load_causal_lm(cfg.model, tokenizer, seed=cfg.trainer.seed)
    datamodule = SFTDataModule(cfg, tokenizer, train_rows, val_rows)
    return SFTModule(cfg, model, tokenizer), datamodule


def _chat_texts(rows: list[dict]):
    for row in rows:
        for message in row["messages"]:
            yield message["content"]
