"""The training progress bar: one bar over the whole run, counted in optimizer steps (not batches per epoch),
showing what a user watches: the loss, the learning rate and the throughput (tokens/s, or samples/s for RLVR),
then the last validation figures; no batch rate and no `v_num`."""

from __future__ import annotations

import math
from typing import Any

from lightning.pytorch.callbacks import TQDMProgressBar

from tulu_lightning.terminal import format_figure

# (logged metric, label in the bar); shown in this order when logged
BAR_METRICS = [
    ("train/loss", "loss"),
    ("train/lr", "lr"),
    ("train/tokens_per_sec", "tok/s"),
    ("train/samples_per_sec", "samples/s"),
    ("train/correct_frac", "correct"),
    ("val/loss", "val loss"),
    ("val/accuracy", "val acc"),
    ("val/f1", "val F1"),
]


class TrainingProgressBar(TQDMProgressBar):
    """One bar for the whole run: `<name> epoch e/E: 40%|███ | 20/50 steps [00:31<00:46, loss=1.23, lr=3e-05,
    tok/s=5.1k, val acc=0.41]` (no batch rate, no `v_num`)."""

    BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} steps [{elapsed}<{remaining}{postfix}]"

    def __init__(self, name: str, refresh_rate: int = 1):
        super().__init__(refresh_rate=refresh_rate)
        self.name = name
        self._step = 0

    def init_train_tqdm(self):
        bar = super().init_train_tqdm()
        bar.set_description(self.name)
        total = self.trainer.estimated_stepping_batches
        bar.total = None if math.isinf(total) else int(total)
        return bar

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        # a resumed run starts where its checkpoint left off
        self._step = trainer.fit_loop.epoch_loop.batch_progress.total.completed
        self.train_progress_bar.n = self._step
        self.train_progress_bar.refresh()

    def on_train_epoch_start(self, trainer, *_: Any) -> None:
        # one bar over all epochs: only its description changes
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        epoch = f" epoch {trainer.current_epoch + 1}/{epochs}" if epochs and epochs > 1 else ""
        self.train_progress_bar.set_description(f"{self.name}{epoch}")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._step += 1
        bar = self.train_progress_bar
        if self._should_update(self._step, bar.total or self._step + 1) or self._step == bar.total:
            bar.n = self._step
            bar.set_postfix(self.get_metrics(trainer, pl_module))

    def get_metrics(self, trainer, pl_module) -> dict[str, str]:
        logged = trainer.callback_metrics
        return {label: format_figure(float(logged[key])) for key, label in BAR_METRICS if key in logged}


__all__ = ["BAR_METRICS", "TrainingProgressBar"]
