"""Training (the `fit` command, `cli/fit.py`): resolve the config, build the objective, train it with Lightning,
export, track in MLflow.

The output directory is the run's own and self-contained: `config.yaml` (the resolved config) and `tokenizer/`
are written when the run starts, `checkpoints/` while it trains (each written whole, then renamed into place),
`hf/` and `training_curves.png` at the end. A directory holding an earlier run is refused unless resumed (`trainer.resume_from`) or
replaced (`--overwrite`); while a run trains, it holds the directory's lock.

Resuming reads the checkpoint's run directory: its config (which may differ only in the keys of
`RESUMABLE_CHANGES`) and its tokenizer; the run continues the same MLflow run (its id is kept in every
checkpoint) from the exact step, data position and random state.
"""

from __future__ import annotations

import copy
import importlib
import logging
import shutil
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import TorchCheckpointIO

from tulu_lightning.config import (
    ConfigError,
    RunConfig,
    epoch_limit,
    flatten,
    load_yaml,
    merge_config,
    require_files,
    require_model_dir,
    to_yaml,
    validate_ranges,
)
from tulu_lightning.errors import OutputError
from tulu_lightning.evaluation.config import validate_suite_eval
from tulu_lightning.files import atomic_path, check_outputs, existing_inputs, file_lock, write_text
from tulu_lightning.objectives import OBJECTIVES

# The run directory's files.
RUN_CONFIG, RUN_TOKENIZER, CHECKPOINTS, EXPORT = "config.yaml", "tokenizer", "checkpoints", "hf"
CURVES = "training_curves.png"  # the loss and validation accuracy by step, drawn at the end (also in MLflow)
LOCK = ".lock"  # held by the process training there
RUN_OUTPUTS = (
    RUN_CONFIG,
    RUN_TOKENIZER,
    CHECKPOINTS,
    EXPORT,
    CURVES,
)  # what `fit` writes, and --overwrite replaces
# What a resumed run may change from its config.yaml: how long and how often, not what is trained.
RESUMABLE_CHANGES = (
    "trainer.resume_from", "trainer.overwrite", "trainer.output_dir", "trainer.max_steps", "trainer.max_epochs",
    "trainer.export", "trainer.checkpoint_every_n_steps", "trainer.log_every_n_steps",
    "trainer.val_check_interval", "data.num_workers", "data.prepared_dir", "data.num_proc", "data.hub_streaming",
    "tracking.", "eval.",
)  # fmt: skip
# Config values that name outputs, not inputs (every other existing path in a config is an input).
OUTPUT_KEYS = (
    "trainer.output_dir", "trainer.resume_from", "dpo.reference_cache_dir", "sweep.out_dir", "data.prepared_dir",
)  # fmt: skip


def load_run_config(path: str, overrides: list[str] | None = None) -> RunConfig:
    """YAML + overrides -> the objective's config dataclass, validated (keys, types, ranges, files)."""
    data = load_yaml(path)
    overrides = list(overrides or [])
    objective = next(
        (o.split("=", 1)[1] for o in overrides if o.startswith("objective=")), data.get("objective")
    )
    if objective not in OBJECTIVES:
        raise ConfigError(f"{path}: 'objective' must be one of {sorted(OBJECTIVES)}, got {objective!r}")
    module_name, class_name = OBJECTIVES[objective]
    objective_module = importlib.import_module(module_name)
    cfg = merge_config(getattr(objective_module, class_name), data, overrides, source=path)
    require_files({"data.train_files": cfg.data.train_files, "data.val_files": cfg.data.val_files})
    require_model_dir("model.name_or_path", cfg.model.name_or_path)
    validate_ranges(cfg)
    validate_suite_eval(cfg.suite_eval)
    if hasattr(objective_module, "validate"):
        objective_module.validate(cfg)
    return cfg


def build_objective(cfg: RunConfig):
    """(LightningModule, LightningDataModule) for the config's objective."""
    module_name, _ = OBJECTIVES[cfg.objective]
    return importlib.import_module(module_name).build(cfg)


@dataclass
class FitResult:
    run_id: str | None
    output_dir: Path
    hf_dir: Path | None
    metrics: dict[str, float]
    module: Any


def make_strategy(cfg: RunConfig):
    if cfg.trainer.strategy == "fsdp2":
        from lightning.pytorch.strategies import ModelParallelStrategy

        # Pure data parallelism: every process holds one shard (Lightning's "auto" would mean one per node).
        return ModelParallelStrategy(data_parallel_size=world_size(cfg), tensor_parallel_size=1)
    if cfg.trainer.strategy == "ddp":
        from lightning.pytorch.strategies import DDPStrategy

        return DDPStrategy()
    return "auto"


def world_size(cfg: RunConfig) -> int:
    import torch

    devices = cfg.trainer.devices
    if isinstance(devices, int) and devices > 0:
        per_node = devices
    elif isinstance(devices, (list, tuple)):
        per_node = len(devices)
    else:  # "auto" / -1: every visible accelerator, or one CPU process
        per_node = torch.cuda.device_count() if cfg.trainer.accelerator in ("auto", "gpu", "cuda") else 1
    return max(1, per_node) * cfg.trainer.num_nodes


# --- the run directory ---------------------------------------------------------------------------------


def resolve_checkpoint(cfg: RunConfig) -> Path | None:
    """The checkpoint to resume from: a path, or for "last" the newest one of this output directory."""
    resume = cfg.trainer.resume_from
    if resume is None:
        return None
    if resume == "last":
        directory = Path(cfg.trainer.output_dir) / CHECKPOINTS
        path = newest_checkpoint(directory)
        if path is None:
            raise ConfigError(f"trainer.resume_from=last: no checkpoint in {directory}")
        return path
    path = Path(resume)
    if not path.exists():
        raise ConfigError(f"trainer.resume_from: checkpoint not found: {path}")
    return path


def newest_checkpoint(directory: Path) -> Path | None:
    """The most recently written complete checkpoint in `directory` (a `.ckpt` file, or a distributed
    checkpoint's directory once its metadata is written), whatever its name (`last.ckpt`, `last-v1.ckpt`)."""
    if not directory.is_dir():
        return None
    complete = [
        p
        for p in directory.glob("*.ckpt")
        if not p.name.startswith(".") and (p.is_file() or (p / "meta.pt").is_file())  # not one being written
    ]
    return max(complete, key=lambda p: (p / "meta.pt" if p.is_dir() else p).stat().st_mtime_ns, default=None)


def checkpoint_metadata(path: Path) -> dict[str, Any]:
    """A checkpoint's entries (its tensors memory-mapped, not read), or a distributed checkpoint's metadata."""
    import torch

    return torch.load(
        path / "meta.pt" if path.is_dir() else path, map_location="cpu", mmap=True, weights_only=False
    )


def run_dir_of(checkpoint: Path) -> Path:
    """The run directory a checkpoint belongs to (`<run>/checkpoints/x.ckpt`), else the checkpoint's folder."""
    folder = checkpoint.resolve().parent
    return folder.parent if folder.name == CHECKPOINTS else folder


def config_inputs(cfg: RunConfig, *extra: str | Path | None) -> list[Path]:
    """Every local path the config names (data, models, tokenizer, target files...), except its outputs."""
    values = [v for k, v in flatten(cfg).items() if not k.startswith(OUTPUT_KEYS)]
    paths = [p for v in values for p in (v if isinstance(v, list) else [v]) if isinstance(p, str) and p]
    return existing_inputs([*paths, *extra])


def resumes_in_place(cfg: RunConfig, checkpoint: Path | None) -> bool:
    """Whether the run continues in its own directory (from one of its own checkpoints)."""
    return checkpoint is not None and run_dir_of(checkpoint) == Path(cfg.trainer.output_dir).resolve()


def prepare_run_dir(cfg: RunConfig, checkpoint: Path | None, config_file: str | None = None) -> None:
    """Check and set up the output directory (on the first process only, holding its lock)."""
    out = Path(cfg.trainer.output_dir)
    in_place = resumes_in_place(cfg, checkpoint)
    if checkpoint is not None:
        check_trained_config(cfg, checkpoint, "trainer.resume_from")
    inputs = config_inputs(cfg, config_file, None if in_place else checkpoint)
    if in_place:
        check_outputs([out / EXPORT, out / CURVES], inputs)
        return
    check_outputs([out / name for name in RUN_OUTPUTS], inputs)
    # A run that failed before its first checkpoint left only what a start writes: nothing to lose.
    started_only = (LOCK, RUN_CONFIG, RUN_TOKENIZER)
    earlier = sorted(p.name for p in out.iterdir() if p.name not in started_only) if out.is_dir() else []
    if earlier and not cfg.trainer.overwrite:
        raise OutputError(
            f"trainer.output_dir {out}: holds an earlier run ({', '.join(earlier[:4])}); choose a new output_dir, "
            "continue it with trainer.resume_from=last, or replace it with --overwrite"
        )
    for name in RUN_OUTPUTS:  # --overwrite: the earlier run's outputs, nothing else the directory holds
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    write_text(out / RUN_CONFIG, to_yaml(cfg))


def check_trained_config(cfg: RunConfig, checkpoint: Path, what: str) -> None:
    """`cfg` describes what `checkpoint` was trained on: it may differ from the run directory's `config.yaml`
    only in `RESUMABLE_CHANGES` (else a one-line error starting with `what`)."""
    saved = run_dir_of(checkpoint) / RUN_CONFIG
    if not saved.is_file():
        return  # a checkpoint without its run directory: nothing to compare with
    before = flatten(merge_config(type(cfg), load_yaml(saved), source=str(saved)))
    now = flatten(cfg)
    for key in sorted(before.keys() | now.keys()):
        if not key.startswith(RESUMABLE_CHANGES) and before.get(key) != now.get(key):
            raise ConfigError(
                f"{what}: {key} is {now.get(key)!r} here but {before.get(key)!r} in {saved}, the "
                f"config the checkpoint was trained with; resume with --config {saved}"
            )


def with_run_tokenizer(cfg: RunConfig, checkpoint: Path | None) -> RunConfig:
    """The config to build from: when resuming, the tokenizer saved in the checkpoint's run directory (a tiny
    model's is trained from the data, which may have changed since)."""
    saved = run_dir_of(checkpoint) / RUN_TOKENIZER if checkpoint is not None else None
    if saved is None or not saved.is_dir():
        return cfg
    cfg = copy.deepcopy(cfg)
    cfg.model.tokenizer = str(saved)
    return cfg


def save_tokenizer(tokenizer, directory: Path) -> None:
    with atomic_path(directory) as temporary:
        tokenizer.save_pretrained(temporary)


# --- tracking ----------------------------------------------------------------------------------------------


def start_tracking(
    cfg: RunConfig,
    out: Path,
    checkpoint: Path | None,
    in_place: bool,
    lead: bool,
    config_file: str | None = None,
):
    """The MLflow logger: the checkpoint's own run when resuming in place (the checkpoint keeps its id), else
    a new run. On the first process, runs of this output directory left RUNNING by a killed process are
    marked KILLED (or, for the one continued, tagged as interrupted)."""
    from tulu_lightning.tracking import (
        continue_run,
        lightning_logger,
        log_config,
        log_datasets,
        mark_killed_runs,
        prepare_store,
        readable_run_name,
    )

    if not cfg.tracking.enabled:
        return None
    prepare_store(cfg.tracking)
    meta = checkpoint_metadata(checkpoint) if checkpoint is not None else {}
    run_id = meta.get("mlflow_run_id") if in_place else None
    if lead:
        resumed = f"resumed at step {meta.get('global_step')} from {checkpoint}"
        if run_id is not None and not continue_run(cfg.tracking, run_id, resumed):
            run_id = None  # not in this store: a new run
        mark_killed_runs(cfg.tracking, out, keep=run_id)
    tags = {"objective": cfg.objective, "output_dir": str(out.resolve())}
    name = readable_run_name(cfg.objective, Path(config_file).stem if config_file else out.name)
    logger = lightning_logger(cfg.tracking, run_name=name, tags=tags, run_id=run_id)
    if lead:
        client = logger.experiment
        if run_id is None:
            log_config(client, logger.run_id, cfg)
            log_datasets(client, logger.run_id, cfg.data)
        if checkpoint is not None:
            source = meta.get("mlflow_run_id")
            note = f"{checkpoint.resolve()} (step {meta.get('global_step')}, MLflow run {source})"
            client.set_tag(logger.run_id, "tulu_lightning.resumed_from", note)
    return logger


class KeepRunId(Callback):
    """Writes the MLflow run's id into every checkpoint, so a resumed fit continues that run."""

    def __init__(self, run_id: str | None):
        self.run_id = run_id

    def on_save_checkpoint(self, trainer, module, checkpoint: dict) -> None:
        checkpoint["mlflow_run_id"] = self.run_id


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, writing each checkpoint whole to a temporary file renamed into place (a
    process killed while saving never leaves a truncated `last.ckpt`)."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        with atomic_path(path) as temporary:
            super().save_checkpoint(checkpoint, temporary, storage_options)


# --- fit -------------------------------------------------------------------------------------------------


def fit(
    cfg: RunConfig, callbacks: list | None = None, config_file: str | None = None, progress_bar: bool = True
) -> FitResult:
    """Train `cfg` (see the module docstring for its output directory); `callbacks` are added to Lightning's,
    `config_file` (the YAML it came from) is protected from being overwritten; `progress_bar=False` trains
    without a bar (a sweep shows its own)."""
    import lightning as L

    out = Path(cfg.trainer.output_dir)
    lead = _is_global_zero()  # later processes of a distributed run find the directory already set up
    checkpoint = resolve_checkpoint(cfg)
    in_place = resumes_in_place(cfg, checkpoint)
    lock = file_lock(out / LOCK, blocking=False, what=f"trainer.output_dir {out}") if lead else nullcontext()
    with lock:
        if lead:
            prepare_run_dir(cfg, checkpoint, config_file)
        L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
        module, datamodule = build_objective(with_run_tokenizer(cfg, checkpoint))
        if lead and not in_place:
            save_tokenizer(module.tokenizer, out / RUN_TOKENIZER)
        logger = start_tracking(cfg, out, checkpoint, in_place, lead, config_file)
        return run_trainer(cfg, module, datamodule, logger, checkpoint, callbacks or [], progress_bar)


def run_trainer(
    cfg: RunConfig,
    module,
    datamodule,
    logger,
    checkpoint: Path | None,
    callbacks: list,
    progress_bar: bool = True,
) -> FitResult:
    """Lightning's fit of `module` on `datamodule` (from `checkpoint`, when resuming), then the final validation
    and the Hugging Face export."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from tulu_lightning.evaluation import GenerationAccuracyCallback
    from tulu_lightning.export import save_hf
    from tulu_lightning.progress_bar import TrainingProgressBar
    from tulu_lightning.tracking import system_metrics

    out = Path(cfg.trainer.output_dir)
    run_id = logger.run_id if logger is not None and _is_global_zero() else None
    callbacks = [
        ModelCheckpoint(
            dirpath=out / CHECKPOINTS,
            every_n_train_steps=cfg.trainer.checkpoint_every_n_steps,
            save_last=True,
            save_top_k=-1 if cfg.trainer.checkpoint_every_n_steps else 0,
            filename="step{step}",
            auto_insert_metric_name=False,
            enable_version_counter=False,  # a resumed run rewrites its own step files, never `-v1` copies
        ),
        KeepRunId(run_id),
        *callbacks,
    ]
    if progress_bar:
        callbacks.append(TrainingProgressBar(cfg.objective))
    if cfg.eval.enabled:
        callbacks.append(GenerationAccuracyCallback(cfg.eval, list(datamodule.val_rows)))
    if cfg.suite_eval.enabled:
        from tulu_lightning.evaluation.callback import SuiteEvalCallback

        callbacks.append(SuiteEvalCallback(cfg.suite_eval))
    quiet_lightning_chatter()
    trainer = L.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=cfg.trainer.devices,
        num_nodes=cfg.trainer.num_nodes,
        strategy=make_strategy(cfg),
        precision=cfg.trainer.precision,
        max_epochs=epoch_limit(cfg.trainer),
        max_steps=cfg.trainer.max_steps,
        logger=logger or False,
        callbacks=callbacks,
        plugins=[] if cfg.trainer.strategy == "fsdp2" else [AtomicCheckpointIO()],
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        val_check_interval=cfg.trainer.val_check_interval,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # StepSampler shards the data itself
        default_root_dir=out,
        enable_model_summary=False,
        enable_progress_bar=progress_bar,
    )
    with system_metrics(cfg.tracking, run_id):
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(checkpoint) if checkpoint else None)
        if datamodule.val_items and module.last_validated_step != trainer.global_step:
            trainer.validate(
                module, datamodule=datamodule, verbose=False
            )  # the final model is always evaluated

    hf_dir = None
    if cfg.trainer.export:
        hf_dir = save_hf(module.model, module.tokenizer, out / EXPORT, trainer.is_global_zero)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if logger is not None and trainer.is_global_zero:
        _log_outputs(logger, cfg, hf_dir)
    # the first process writes the export; the others must not return before it is there (a recipe's next stage
    # loads it on every process)
    trainer.strategy.barrier("tulu_lightning.export")
    return FitResult(logger.run_id if logger else None, out, hf_dir, metrics, module)


# Lightning's lines and warnings that say nothing about a tulu_lightning run, or something untrue of it, dropped
# from the console: hardware banners and an advertisement; its own internal deprecations; "dataloader is not
# resumable" (StepSampler resumes mid-epoch exactly, tests/test_resume.py); modules in eval mode (our frozen
# reference and reward models, on purpose); an empty validation list (a run without validation data).
LIGHTNING_LINES = (
    "GPU available:",
    "TPU available:",
    "HPU available:",
    "💡 Tip:",
    "`Trainer(val_check_interval=",
)
LIGHTNING_WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    r"torch\.distributed\.nn\.functional\.all_gather is deprecated",
    r"You're resuming from a checkpoint that ended before the epoch ended",
    r"Found \d+ module\(s\) in eval mode at the start of training",
    r"Total length of `\w+` across ranks is zero",
)


class _DropLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(LIGHTNING_LINES)


def quiet_lightning_chatter() -> None:
    """Drop `LIGHTNING_LINES` from Lightning's rank-zero log and ignore `LIGHTNING_WARNINGS` (once a process)."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLines) for f in logger.filters):
            logger.addFilter(_DropLines())
    if not any(getattr(f[1], "pattern", None) == LIGHTNING_WARNINGS[0] for f in warnings.filters):
        for pattern in LIGHTNING_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)


def _log_outputs(logger, cfg: RunConfig, hf_dir: Path | None) -> None:
    """The export: its path as the run's `model_dir` tag, and an MLflow logged model of the run (its files copied
    only with `tracking.log_model`)."""
    from tulu_lightning.tracking import log_exported_model

    client, run_id = logger.experiment, logger.run_id
    log_training_curves(client, run_id, Path(cfg.trainer.output_dir) / CURVES, stage=cfg.objective)
    if hf_dir is not None:
        client.set_tag(run_id, "model_dir", str(hf_dir.resolve()))
        name = f"{cfg.objective}-{Path(cfg.trainer.output_dir).name}"
        params = {"objective": cfg.objective, "base_model": str(cfg.model.name_or_path or "tiny")}
        log_exported_model(client, run_id, hf_dir, name, cfg.tracking.log_model, params)


def log_training_curves(client, run_id: str, path: Path, stage: str) -> Path:
    """The run's loss (and validation accuracy) by step, read back from MLflow, drawn to `path` and logged."""
    from tulu_lightning.plots import run_histories, training_curves
    from tulu_lightning.tracking import save_figure

    return save_figure(training_curves(run_histories(client, {stage: run_id})), path, client, run_id)


def _is_global_zero() -> bool:
    from tulu_lightning.prepared import global_rank

    return global_rank() == 0


__all__ = ["FitResult", "build_objective", "fit", "load_run_config"]
