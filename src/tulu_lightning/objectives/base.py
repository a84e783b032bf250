"""What every objective shares: optimizers and schedules, one manual optimizer step per batch, FSDP2 sharding,
step-level loss normalisation across micro-batches and ranks, and exact mid-epoch resume.

An objective subclasses `PostTrainingModule` and writes its own `training_step`, which receives one optimizer
step (a list of micro-batches) and calls `backward_scaled` per micro-batch and `step_optimizer` once.

Its `optimizer_groups` say what is trained: each group has its own AdamW settings (LR, ε, weight decay), LR
schedule and gradient clip, as if it had its own optimizer (PPO's policy and value model, open-instruct's two
DeepSpeed engines; everything else is one group). They live in one AdamW, a pair of parameter groups each (weight
matrices decayed, the rest not), so Lightning's `global_step` still counts optimizer steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader

from tulu_lightning.config import OptimConfig, TrainerConfig
from tulu_lightning.data import ListDataset, StepSampler, step_collate


def lr_lambda(schedule: str, warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """Multiplier of the peak LR at optimizer step `s`: linear warmup, then linear/cosine decay to 0 or constant."""

    def multiplier(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0 - progress

    return multiplier


@dataclass
class OptimizerGroup:
    """Modules trained with their own AdamW settings, LR schedule and gradient clip (`settings`)."""

    name: str
    modules: list[torch.nn.Module]
    settings: OptimConfig

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for module in self.modules for p in module.parameters() if p.requires_grad]


def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The transformer blocks of a Hugging Face model (the unit FSDP2 shards and checkpointing wraps)."""
    return [module for module in model.modules() if type(module).__name__.endswith("DecoderLayer")]


class PostTrainingModule(L.LightningModule):
    """Base LightningModule: manual optimization over whole optimizer steps."""

    def __init__(self, optim: OptimConfig, trainer_cfg: TrainerConfig):
        super().__init__()
        self.automatic_optimization = False
        self.optim_cfg = optim
        self.trainer_cfg = trainer_cfg
        self.steps_in_epoch = 0  # optimizer steps (exact resume reads Lightning's own count of batches)
        self.resume_position: dict[str, int] | None = None  # from the checkpoint: where the data stands
        self._random_state_to_restore: torch.Tensor | None = None
        self.last_validated_step = -1
        self._step_started = 0.0

    # --- what subclasses provide ---------------------------------------------------------------------

    def trainable_modules(self) -> list[torch.nn.Module]:
        """Modules whose parameters the optimizer updates and FSDP2 shards."""
        return [self.model]

    def optimizer_groups(self) -> list[OptimizerGroup]:
        """What the optimizer trains, group by group; the first group's grad norm and LR are logged as
        `grad_norm` and `lr`, the others' as `<name>_grad_norm` and `<name>_lr`."""
        return [OptimizerGroup("policy", self.trainable_modules(), self.optim_cfg)]

    # --- sharding ----------------------------------------------------------------------------------------

    def configure_model(self) -> None:
        """Under ModelParallelStrategy: FSDP2 `fully_shard` per decoder layer, then on each whole model."""
        mesh = getattr(self, "device_mesh", None) if self._trainer is not None else None
        if mesh is None:
            return
        from torch.distributed.fsdp import fully_shard

        dp_mesh = mesh["data_parallel"]
        for module in self.sharded_modules():
            if any(isinstance(p, torch.distributed.tensor.DTensor) for p in module.parameters()):
                continue  # already sharded (configure_model runs again on resume)
            for layer in decoder_layers(module):
                fully_shard(layer, mesh=dp_mesh)
            fully_shard(module, mesh=dp_mesh)

    def sharded_modules(self) -> list[torch.nn.Module]:
        return self.trainable_modules()

    # --- optimizer -------------------------------------------------------------------------------------

    def configure_optimizers(self):
        """One AdamW: per optimizer group, a decayed parameter group (weight matrices) and an undecayed one
        (biases, norm scales), with the group's LR, betas, ε and its own LR schedule."""
        total = self.total_optimizer_steps()
        param_groups, schedules = [], []
        for group in self.optimizer_groups():
            cfg = group.settings
            length = cfg.schedule_steps or total
            warmup = cfg.warmup_steps if cfg.warmup_steps is not None else int(cfg.warmup_ratio * length)
            params = group.parameters()
            for subset, weight_decay in (
                ([p for p in params if p.ndim >= 2], cfg.weight_decay),
                ([p for p in params if p.ndim < 2], 0.0),
            ):
                settings = {
                    "lr": cfg.lr,
                    "betas": tuple(cfg.betas),
                    "eps": cfg.eps,
                    "weight_decay": weight_decay,
                }
                param_groups.append({"params": subset, **settings})
                schedules.append(lr_lambda(cfg.scheduler, warmup, length))
        optimizer = torch.optim.AdamW(param_groups)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedules)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def total_optimizer_steps(self) -> int:
        """Length of the LR schedule: max_steps, else steps per epoch × epochs (independent of any resume)."""
        if self.trainer.max_steps > 0:
            return self.trainer.max_steps
        return max(1, self.trainer.datamodule.steps_per_epoch() * self.trainer.max_epochs)

    # --- one optimizer step ------------------------------------------------------------------------------

    def global_sum(self, value: float | torch.Tensor) -> torch.Tensor:
        """Sum of a per-rank number over all ranks (a float tensor on this device)."""
        tensor = torch.as_tensor(value, dtype=torch.float64, device=self.device)
        if self.trainer.world_size > 1:
            tensor = self.trainer.strategy.reduce(tensor, reduce_op="sum")
        return tensor

    def backward_scaled(self, loss: torch.Tensor) -> None:
        """Backward of a loss already normalised by the global step denominator.

        DDP and FSDP2 average gradients over ranks, so the loss is scaled by the world size: the gradient is
        then exactly that of (sum over all ranks' losses).
        """
        self.manual_backward(loss * self.trainer.world_size)

    def step_optimizer(self) -> dict[str, float]:
        """Clip each optimizer group's gradients on their own, step, zero, advance the schedules. Returns each
        group's grad norm (before clipping) and the LR it used."""
        optimizer, scheduler = self.optimizers(), self.lr_schedulers()
        stats = {}
        for index, group in enumerate(self.optimizer_groups()):
            max_norm = group.settings.max_grad_norm or float("inf")
            grad_norm = torch.nn.utils.clip_grad_norm_(group.parameters(), max_norm)
            if hasattr(grad_norm, "full_tensor"):
                grad_norm = grad_norm.full_tensor()
            prefix = "" if index == 0 else f"{group.name}_"
            stats[f"{prefix}grad_norm"] = float(grad_norm)
            stats[f"{prefix}lr"] = optimizer.param_groups[2 * index]["lr"]  # its decayed parameter group
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        self.steps_in_epoch += 1
        return stats

    def start_step_timer(self) -> None:
        self._step_started = time.perf_counter()

    def step_seconds(self) -> float:
        return max(time.perf_counter() - self._step_started, 1e-9)

    def log_metrics(self, metrics: dict[str, float | torch.Tensor], prefix: str = "train/") -> None:
        values = {prefix + k: float(v) for k, v in metrics.items()}
        self.log_dict(values, on_step=True, on_epoch=False, sync_dist=False, rank_zero_only=True)

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.last_validated_step = self.global_step

    def on_train_start(self) -> None:
        """Log what the data module kept and left out (`data.<name>` tags, and one line on the console)."""
        counts = getattr(self.trainer.datamodule, "counts", None)
        if counts and self.trainer.is_global_zero:
            rank_zero_info("data: " + ", ".join(f"{name} {value}" for name, value in counts.items()))
            if self.logger is not None:  # figures, not curves: the run's `data.<name>` tags
                from tulu_lightning.tracking import log_counts

                log_counts(self.logger.experiment, self.logger.run_id, counts)

    # --- exact resume --------------------------------------------------------------------------------
    # A checkpoint records where the data stands (the epoch, and the batches done in it: Lightning's own count,
    # so an RLVR rollout batch counts once whatever its optimizer steps) and every rank's random state; the
    # resumed run skips those batches and restores the state just before its first step, so it continues
    # exactly as the uninterrupted run would have (same data order, same rollout samples).

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        batches = self.trainer.fit_loop.epoch_loop.batch_progress.current.processed
        checkpoint["data_position"] = {"epoch": self.current_epoch, "steps_in_epoch": batches}
        checkpoint["random_state"] = self._gather_random_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.resume_position = checkpoint.get("data_position")
        states = checkpoint.get("random_state")
        if states is not None and self._trainer is not None and len(states) == self.trainer.world_size:
            self._random_state_to_restore = states[self.trainer.global_rank]

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self._random_state_to_restore is not None:
            _set_random_state(self._random_state_to_restore, self.device)
            self._random_state_to_restore = None

    def _gather_random_states(self) -> list[torch.Tensor]:
        """Every rank's random state, indexed by rank (a collective: all ranks save the checkpoint)."""
        state = _random_state(self.device)
        if self.trainer.world_size == 1:
            return [state]
        gathered = self.trainer.strategy.all_gather(state.to(self.device))
        return [row.cpu() for row in gathered]


def _random_state(device: torch.device) -> torch.Tensor:
    """torch's CPU generator state, followed by the current GPU's, as one byte tensor."""
    states = [torch.get_rng_state()]
    if device.type == "cuda":
        states.append(torch.cuda.get_rng_state(device))
    return torch.cat(states)


def _set_random_state(state: torch.Tensor, device: torch.device) -> None:
    cpu_size = torch.get_rng_state().numel()
    torch.set_rng_state(state[:cpu_size].clone())
    if device.type == "cuda" and state.numel() > cpu_size:
        torch.cuda.set_rng_state(state[cpu_size:].clone(), device)


def data_tokenizer(cfg, load_rows: Callable) -> Any:
    """The model's tokenizer; a tiny model's is trained on the texts of its training rows (`load_rows(cfg)`,
    validated: demo-sized data, read whole for it only)."""
    from tulu_lightning.models import load_tokenizer
    from tulu_lightning.schemas import row_texts

    trains_its_tokenizer = cfg.model.tiny is not None and not (cfg.model.tokenizer or cfg.model.name_or_path)
    return load_tokenizer(cfg.model, texts=row_texts(load_rows(cfg)[0]) if trains_its_tokenizer else None)


class StepDataModule(L.LightningDataModule):
    """Serves training rows as optimizer steps (lists of micro-batches) and validation rows as micro-batches.

    Subclasses fill `self.train_items`, `self.val_items` in `setup` and implement `collate(rows) -> dict`.
    """

    def __init__(self, trainer_cfg: TrainerConfig, num_workers: int = 0, seed: int = 0):
        super().__init__()
        self.trainer_cfg = trainer_cfg
        self.num_workers = num_workers
        self.seed = seed
        self.train_items: Sequence = []
        self.val_items: Sequence = []
        self.counts: dict[
            str, int
        ] = {}  # rows kept and left out while preparing them (logged as data/<name>)

    def collate(self, rows: list) -> dict:
        raise NotImplementedError

    def step_sampler(self) -> StepSampler:
        cfg = self.trainer_cfg
        return StepSampler(
            len(self.train_items),
            cfg.micro_batch_size,
            cfg.gradient_accumulation_steps,
            rank=self.trainer.global_rank if self.trainer else 0,
            world_size=self.trainer.world_size if self.trainer else 1,
            seed=self.seed,
        )

    def steps_per_epoch(self) -> int:
        return len(self.step_sampler().steps())

    def train_dataloader(self) -> DataLoader:
        cfg = self.trainer_cfg
        sampler = self.step_sampler()
        module = self.trainer.lightning_module if self.trainer else None
        position = getattr(module, "resume_position", None)
        if position:
            sampler.resume_at(position["epoch"], position["steps_in_epoch"])
            module.resume_position = None  # only the first pass after a restore starts mid-epoch
        return DataLoader(
            ListDataset(self.train_items),
            batch_sampler=sampler,
            collate_fn=step_collate(cfg.micro_batch_size, self.collate),
            num_workers=self.num_workers,
            # its own generator: making an iterator each epoch draws from it, not from the global random state
            generator=torch.Generator().manual_seed(self.seed),
        )

    def val_dataloader(self) -> DataLoader | list:
        """Every rank evaluates the whole (small) validation set, in lockstep, so sharded models never wait on
        a rank with fewer batches and metrics need no cross-rank reduction."""
        if not self.val_items:
            return []
        return DataLoader(
            ListDataset(self.val_items),
            batch_size=self.trainer_cfg.micro_batch_size,
            collate_fn=self.collate,
            num_workers=self.num_workers,
        )
