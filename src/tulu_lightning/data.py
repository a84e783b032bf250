"""Data shared by the objectives: reading rows, sharding them into optimizer steps, padding-free packing.

A training batch is one optimizer step: a list of `gradient_accumulation_steps` micro-batches, so an
objective can normalise its loss over the whole step (all micro-batches, all ranks) before any backward.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from tulu_lightning.chat import IGNORE_INDEX
from tulu_lightning.config import ConfigError, DataConfig
from tulu_lightning.errors import DataError
from tulu_lightning.files import iter_jsonl

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Row:
    """One input row and where it came from, so every problem with it can be reported there: `source` is the
    file path (or `<hub name>[<split>]`), `number` the row's 1-based line in a JSONL file, or its 1-based row in a
    Parquet file or hub dataset."""

    source: str
    number: int
    fields: dict

    @property
    def where(self) -> str:
        return f"{self.source}:{self.number}"


def read_file_rows(path: str | Path) -> list[Row]:
    """The rows of a local JSONL (.jsonl/.json) or Parquet file, each with its place in the file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path).to_pylist()
        return [Row(str(path), number, fields) for number, fields in enumerate(table, start=1)]
    if path.suffix in (".jsonl", ".json"):
        return [Row(str(path), number, fields) for number, fields in iter_jsonl(path)]
    raise DataError(f"{path}: unsupported data file type {path.suffix!r} (use .jsonl or .parquet)")


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a local JSONL (.jsonl/.json) or Parquet file."""
    return [row.fields for row in read_file_rows(path)]


def read_hub_rows(name: str, split: str) -> list[Row]:
    """The rows of a dataset on the Hugging Face hub (or a local dataset directory) through `datasets`."""
    import datasets

    try:
        rows = datasets.load_dataset(name, split=split).to_list()
    except (OSError, ValueError) as err:  # not reachable, no such dataset or split (datasets' own errors)
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"data.hub_dataset: cannot load {name!r} split {split!r}: {reason}") from None
    return [Row(f"{name}[{split}]", number, fields) for number, fields in enumerate(rows, start=1)]


def load_split(data: DataConfig, split: str) -> list[Row]:
    """The `train` or `val` rows: local files, else a hub dataset through `datasets`."""
    files = data.train_files if split == "train" else data.val_files
    if files:
        rows = [row for path in files for row in read_file_rows(path)]
    elif split == "train" and data.hub_dataset:
        rows = read_hub_rows(data.hub_dataset, data.hub_split)
    elif split == "train":
        raise ConfigError("data: set data.train_files or data.hub_dataset")
    else:
        rows = []
    if split == "train" and data.max_train_samples:
        rows = rows[: data.max_train_samples]
    return rows


def split_validation(rows: list[T], fraction: float, seed: int) -> tuple[list[T], list[T]]:
    """Carve a held-out split from training rows (used when no validation files are given)."""
    if fraction <= 0:
        return rows, []
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = max(1, int(len(rows) * fraction))
    return [rows[i] for i in order[n_val:]], [rows[i] for i in order[:n_val]]


def load_train_val(data: DataConfig) -> tuple[list[Row], list[Row]]:
    """Training and validation rows; without validation files, `data.val_fraction` of training is held out."""
    train_rows, val_rows = load_split(data, "train"), load_split(data, "val")
    if not val_rows:
        train_rows, val_rows = split_validation(train_rows, data.val_fraction, data.shuffle_seed)
    return train_rows, val_rows


class ListDataset(Dataset):
    def __init__(self, items: Sequence):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        return self.items[index]


class StepSampler(Sampler[list[int]]):
    """Yields, per optimizer step, the row indices of this rank's micro-batches (flattened).

    Rows are shuffled per epoch with `seed + epoch`, padded by repetition to a multiple of the world size and
    sharded round-robin, so every rank runs the same number of steps. `resume_at` starts the next pass
    mid-epoch; the length stays that of a whole epoch (Lightning counts the steps already done).
    """

    def __init__(
        self,
        num_rows: int,
        micro_batch_size: int,
        accumulation: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        seed: int = 0,
    ):
        if num_rows == 0:
            raise DataError("no training rows left after tokenization and filtering")
        self.num_rows, self.micro_batch_size, self.accumulation = num_rows, micro_batch_size, accumulation
        self.rank, self.world_size, self.shuffle, self.seed = rank, world_size, shuffle, seed
        self.epoch = 0
        self._resume: tuple[int, int] | None = None  # (epoch, steps already done in it)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def sampler(self) -> StepSampler:
        """Lightning calls `set_epoch` on a batch sampler's `sampler` (never on the batch sampler): here that is
        this sampler itself, so every epoch gets its own order."""
        return self

    def resume_at(self, epoch: int, steps_done: int) -> None:
        """The next pass is epoch `epoch` without its first `steps_done` steps; only that pass is shortened."""
        if steps_done >= len(self):  # saved after the last step of the epoch: the next one starts afresh
            epoch, steps_done = epoch + 1, 0
        self.epoch = epoch
        self._resume = (epoch, steps_done)

    def _micro_batches(self) -> list[list[int]]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_rows, generator=generator).tolist()
        else:
            order = list(range(self.num_rows))
        padded = math.ceil(len(order) / self.world_size) * self.world_size
        order = (order * math.ceil(padded / len(order)))[:padded]
        shard = order[self.rank :: self.world_size]
        return [shard[i : i + self.micro_batch_size] for i in range(0, len(shard), self.micro_batch_size)]

    def steps(self) -> list[list[list[int]]]:
        micro = self._micro_batches()
        return [micro[i : i + self.accumulation] for i in range(0, len(micro), self.accumulation)]

    def __iter__(self) -> Iterator[list[int]]:
        skip = 0
        if self._resume is not None:
            epoch, steps_done = self._resume
            self._resume = None
            skip = steps_done if epoch == self.epoch else 0
        for step in self.steps()[skip:]:
            yield [index for micro_batch in step for index in micro_batch]

    def __len__(self) -> int:
        rows_per_rank = math.ceil(self.num_rows / self.world_size)
        return math.ceil(math.ceil(rows_per_rank / self.micro_batch_size) / self.accumulation)


def step_collate(micro_batch_size: int, collate: Callable[[list], dict]) -> Callable[[list], list[dict]]:
    """Turn the flattened rows of one step back into a list of collated micro-batches."""

    def collate_step(rows: list) -> list[dict]:
        return [collate(rows[i : i + micro_batch_size]) for i in range(0, len(rows), micro_batch_size)]

    return collate_step


# --- padding-free packing ------------------------------------------------------------------------------


def pack_rows(lengths: np.ndarray | Sequence[int], capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Group example indices into rows of at most `capacity` tokens (first-fit decreasing, in Rust): the
    example indices row after row, and the offsets where each row starts in them (one more than the rows)."""
    from tulu_lightning._native import pack_lengths

    indices, offsets = pack_lengths(np.asarray(lengths, dtype="<u4").tobytes(), capacity)
    return np.frombuffer(indices, dtype="<u4"), np.frombuffer(offsets, dtype="<u8")


class PackedRows(Sequence):
    """Packed rows over `examples` (anything indexable by example): row `r` is the list of examples
    `indices[offsets[r]:offsets[r + 1]]`."""

    def __init__(self, examples, indices: np.ndarray, offsets: np.ndarray):
        self.examples, self.indices, self.offsets = examples, indices, offsets

    @classmethod
    def one_per_row(cls, examples) -> PackedRows:
        return cls(examples, np.arange(len(examples)), np.arange(len(examples) + 1))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        if not 0 <= row < len(self):
            raise IndexError(row)
        members = self.indices[self.offsets[row] : self.offsets[row + 1]]
        return [self.examples[int(i)] for i in members]


def collate_packed(rows: list[list[dict]], pad_token_id: int) -> dict:
    """Collate rows of packed examples (each example: `input_ids`, `labels`, lists or arrays) into one
    micro-batch.

    Each example's labels are shifted within the example (`targets[t]` is the token after `t`), so no position
    ever predicts the first token of the next example. `position_ids` restart at 0 for every example and the
    padding, which lets the attention keep examples apart (block-diagonal mask on CPU, varlen kernels on GPU).
    """
    width = max(sum(len(example["input_ids"]) for example in examples) for examples in rows)
    inputs = np.full((len(rows), width), pad_token_id, dtype=np.int64)
    targets = np.full((len(rows), width), IGNORE_INDEX, dtype=np.int64)
    positions = np.empty((len(rows), width), dtype=np.int64)
    for r, examples in enumerate(rows):
        start = 0
        for example in examples:
            length = len(example["input_ids"])
            inputs[r, start : start + length] = example["input_ids"]
            targets[r, start : start + length - 1] = np.asarray(example["labels"])[1:]
            positions[r, start : start + length] = np.arange(length)
            start += length
        positions[r, start:] = np.arange(width - start)
    return {
        "input_ids": torch.from_numpy(inputs),
        "targets": torch.from_numpy(targets),
        "position_ids": torch.from_numpy(positions),
        "num_examples": sum(len(examples) for examples in rows),
    }
