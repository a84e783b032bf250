"""Preference pairs, shared by DPO and the reward model.

data:  pairs in allenai/llama-3.1-tulu-3-8b-preference-mixture's schema (`chosen`/`rejected` whole conversations)
       or the older `prompt` + answer-only `chosen`/`rejected`, validated at load (`schemas.preference_row`)
       -> both conversations through the SFT chat template and masking (labels on assistant content + EOS);
       a pair with a side longer than `max_seq_length` is dropped (or cut: `data.keep_truncated`, DPO only)
batch: one micro-batch of B pairs is a [2B, T] right-padded tensor, the B chosen sequences first, then the B
       rejected ones, so one forward scores both (or two forwards of B rows each, `concatenated_forward: false`)
step:  `PairwiseModule` averages an objective's per-pair loss over every pair of the optimizer step (all
       micro-batches, all ranks), and logs its per-pair statistics for training and validation
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import torch

from tulu_lightning.chat import IGNORE_INDEX, LengthLimit, tokenize_chat
from tulu_lightning.config import RunConfig
from tulu_lightning.data import load_train_val
from tulu_lightning.objectives.base import PostTrainingModule, StepDataModule
from tulu_lightning.schemas import Schema, validate_splits


def shifted_targets(labels: list[int]) -> list[int]:
    """`targets[t]` is the label of the token after `t` (what position t predicts)."""
    return [*labels[1:], IGNORE_INDEX]


def load_pairs(cfg: RunConfig) -> tuple[list[dict], list[dict]]:
    """Validated training and validation pairs (these with ground truths when `eval.enabled`)."""
    train_rows, val_rows = load_train_val(cfg.data)
    val_schema = Schema("preference", verifiable=cfg.eval.enabled, default_verifier=cfg.eval.verifier)
    return validate_splits([(train_rows, Schema("preference")), (val_rows, val_schema)])


class PreferenceDataModule(StepDataModule):
    """Tokenized pairs as items `{"chosen": {input_ids, labels, trained}, "rejected": {...}}`; a pair with a side
    over `max_seq_length`, or with no trained token left on a side, is dropped and counted."""

    def __init__(
        self, cfg: RunConfig, tokenizer, train_rows: list[dict], val_rows: list[dict], last_turn_only: bool
    ):
        super().__init__(cfg.trainer, cfg.data.num_workers, cfg.data.shuffle_seed)
        self.cfg, self.tokenizer = cfg, tokenizer
        self.train_rows, self.val_rows = train_rows, val_rows
        self.last_turn_only = last_turn_only

    @property
    def dropped_pairs(self) -> int:
        return self.counts.get("dropped_pairs", 0)

    def setup(self, stage: str | None = None) -> None:
        if self.train_items:
            return
        self.train_items = self.tokenize(self.train_rows, "")
        self.val_items = self.tokenize(self.val_rows, "val_")
        self.counts["train_pairs"] = len(self.train_items)

    def tokenize(self, rows: list[dict], prefix: str = "") -> list[dict]:
        limit = LengthLimit(self.cfg.data.max_seq_length, self.cfg.data.keep_truncated)
        items = []
        for row in rows:
            sides = [
                tokenize_chat(self.tokenizer, row[side], self.last_turn_only)
                for side in ("chosen", "rejected")
            ]
            fitted = limit.fit(*sides)
            if fitted is None or any(chat.num_trained_tokens == 0 for chat in fitted):
                continue
            items.append(
                {
                    side: {
                        "input_ids": chat.input_ids,
                        "labels": chat.labels,
                        "trained": chat.num_trained_tokens,
                    }
                    for side, chat in zip(("chosen", "rejected"), fitted)
                }
            )
        self.counts[f"{prefix}over_long_pairs"] = limit.over_long
        self.counts[f"{prefix}dropped_pairs"] = len(rows) - len(items)
        return items

    def collate(self, items: list[dict]) -> dict:
        """[chosen_1..B, rejected_1..B] right-padded: `input_ids`, `attention_mask`, shifted `targets`."""
        sequences = [item["chosen"] for item in items] + [item["rejected"] for item in items]
        width = max(len(s["input_ids"]) for s in sequences)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(sequences), width), pad, dtype=torch.long)
        targets = torch.full((len(sequences), width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, sequence in enumerate(sequences):
            length = len(sequence["input_ids"])
            input_ids[row, :length] = torch.tensor(sequence["input_ids"])
            targets[row, :length] = torch.tensor(shifted_targets(sequence["labels"]))
            attention_mask[row, :length] = 1
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "targets": targets,
            "num_pairs": len(items),
            "num_tokens": int(attention_mask.sum()),
        }
        if "reference" in items[0]:  # cached reference log-probs: [B, 2] (chosen, rejected) sums
            batch["reference"] = torch.stack([item["reference"] for item in items])
        return batch


def halves(batch: dict) -> Iterator[dict]:
    """The chosen half, then the rejected half, of a collated pair batch (for separate forwards)."""
    pairs = batch["num_pairs"]
    for rows in (slice(0, pairs), slice(pairs, 2 * pairs)):
        yield {key: batch[key][rows] for key in ("input_ids", "attention_mask", "targets")}


class PairwiseModule(PostTrainingModule):
    """One optimizer step over preference pairs. Subclasses provide `pair_statistics(batch)`: the per-pair loss
    (with grad) and per-pair statistics summed over the batch; both are averaged over the step's pairs."""

    def pair_statistics(self, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def training_step(self, micro_batches: list[dict], batch_idx: int) -> None:
        self.start_step_timer()
        pairs = self.global_sum(sum(mb["num_pairs"] for mb in micro_batches))
        totals: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=self.device))
        for batch in micro_batches:
            loss, stats = self.pair_statistics(batch)
            self.backward_scaled(loss.sum() / pairs)
            for name, value in stats.items():
                totals[name] += value
        step = self.step_optimizer()
        metrics = {name: self.global_sum(value) / pairs for name, value in totals.items()}
        tokens = self.global_sum(sum(mb["num_tokens"] for mb in micro_batches))
        self.log_metrics({**metrics, "tokens_per_sec": tokens / self.step_seconds(), **step})

    def on_validation_epoch_start(self) -> None:
        self._val_sums: dict[str, float] = defaultdict(float)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        _, stats = self.pair_statistics(batch)
        for name, value in stats.items():
            self._val_sums[name] += float(value)
        self._val_sums["pairs"] += batch["num_pairs"]

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        pairs = self._val_sums.pop("pairs", 0)
        for name, value in self._val_sums.items():
            self.log(f"val/{name}", value / max(1, pairs), rank_zero_only=True)
