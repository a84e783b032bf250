"""Preference pairs, shared by DPO and the reward model.

data:  pairs in allenai/llama-3.1-tulu-3-8b-preference-mixture's schema (`chosen`/`rejected` whole conversations)
       or the older `prompt` + answer-only `chosen`/`rejected`, validated (`schemas.preference_row`) and tokenized
       once into the prepared store (`prepared.py`): both conversations through the SFT chat template and masking
       (labels on assistant content + EOS); a pair with a side longer than `max_seq_length` is dropped (or cut:
       `data.keep_truncated`, DPO only); read in place while training
batch: one micro-batch of B pairs is a [2B, T] right-padded tensor, the B chosen sequences first, then the B
       rejected ones, so one forward scores both (or two forwards of B rows each, `concatenated_forward: false`)
step:  `PairwiseModule` averages an objective's per-pair loss over every pair of the optimizer step (all
       micro-batches, all ranks), and logs its per-pair statistics for training and validation
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from tulu_lightning.chat import IGNORE_INDEX
from tulu_lightning.config import RunConfig
from tulu_lightning.data import load_train_val
from tulu_lightning.objectives.base import PostTrainingModule, StepDataModule
from tulu_lightning.prepared import Examples, Recipe, Store, prepare
from tulu_lightning.schemas import Schema, validate_splits

SIDES = ("chosen", "rejected")


def load_pairs(cfg: RunConfig) -> tuple[list[dict], list[dict]]:
    """Validated training and validation pairs (these with ground truths when `eval.enabled`), in memory (`check`,
    and a tiny model's tokenizer; training reads the prepared store)."""
    train_rows, val_rows = load_train_val(cfg.data)
    val_schema = Schema("preference", verifiable=cfg.eval.enabled, default_verifier=cfg.eval.verifier)
    return validate_splits([(train_rows, Schema("preference")), (val_rows, val_schema)])


def pairs_recipe(cfg: RunConfig, last_turn_only: bool) -> Recipe:
    """How the store tokenizes this config's pairs (part of its key)."""
    return Recipe(
        kind="preference",
        max_length=cfg.data.max_seq_length,
        keep_truncated=cfg.data.keep_truncated,
        last_turn_only=last_turn_only,
        val_verifiable=cfg.eval.enabled,
        default_verifier=cfg.eval.verifier,
    )


def prepare_pairs(cfg: RunConfig, tokenizer, last_turn_only: bool) -> Store:
    """The config's pairs validated and tokenized once into the prepared store (rank 0), or found there."""
    recipe = pairs_recipe(cfg, last_turn_only)
    return prepare(cfg.data, recipe, tokenizer, cfg.data.prepared_dir, cfg.data.num_proc)


class PairItems(Sequence):
    """A prepared split's pairs as items `{"chosen": {input_ids, labels}, "rejected": {...}}` (read from the
    store), with `"reference"` (the cached reference log-probs: chosen, rejected) once attached."""

    def __init__(self, examples: Examples):
        self.examples = examples
        self.reference: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        columns = self.examples[index]
        item = {side: {name: columns[f"{side}_{name}"] for name in ("input_ids", "labels")} for side in SIDES}
        if self.reference is not None:
            item["reference"] = self.reference[index]
        return item


class PreferenceDataModule(StepDataModule):
    """Tokenized pairs read from the prepared store; a pair with a side over `max_seq_length`, or with
    no trained token left on a side, was dropped and counted there."""

    def __init__(self, cfg: RunConfig, tokenizer, store: Store):
        super().__init__(cfg.trainer, cfg.data.num_workers, cfg.data.shuffle_seed)
        self.cfg, self.tokenizer, self.store = cfg, tokenizer, store
        self.counts.update(store.counts)
        self.val_rows = store.val_rows()

    @property
    def dropped_pairs(self) -> int:
        return self.counts.get("dropped_pairs", 0)

    def setup(self, stage: str | None = None) -> None:
        if self.train_items:
            return
        self.train_items = PairItems(self.store.train)
        self.val_items = PairItems(self.store.val)
        self.counts["train_pairs"] = len(self.train_items)

    def attach_reference(self, split: str, reference: torch.Tensor) -> None:
        """Give every pair of `split` ("train" | "val") its reference log-probs ([pairs, 2])."""
        self.setup()
        (self.train_items if split == "train" else self.val_items).reference = reference

    def collate(self, items: list[dict]) -> dict:
        """[chosen_1..B, rejected_1..B] right-padded: `input_ids`, `attention_mask`, shifted `targets`
        (`targets[t]` is the label of the token after `t`, what position t predicts)."""
        sequences = [item["chosen"] for item in items] + [item["rejected"] for item in items]
        width = max(len(s["input_ids"]) for s in sequences)
        input_ids = np.full((len(sequences), width), self.tokenizer.pad_token_id, dtype=np.int64)
        targets = np.full((len(sequences), width), IGNORE_INDEX, dtype=np.int64)
        attention_mask = np.zeros((len(sequences), width), dtype=np.int64)
        for row, sequence in enumerate(sequences):
            length = len(sequence["input_ids"])
            input_ids[row, :length] = sequence["input_ids"]
            targets[row, : length - 1] = np.asarray(sequence["labels"])[1:]
            attention_mask[row, :length] = 1
        batch = {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(attention_mask),
            "targets": torch.from_numpy(targets),
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
