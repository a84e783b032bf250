"""`fit`: resolve the config, build the objective, train it with Lightning, export, track in MLflow."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tulu_lightning.config import (
    ConfigError,
    RunConfig,
    load_yaml,
    merge_config,
    require_files,
    require_model_dir,
    to_yaml,
)
from tulu_lightning.evaluation.config import validate_suite_eval
from tulu_lightning.objectives import OBJECTIVES


def load_run_config(path: str, overrides: list[str] | None = None) -> RunConfig:
    """YAML + overrides -> the objective's config dataclass, validated (keys, types, files)."""
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
    _validate_trainer(cfg)
    validate_suite_eval(cfg.suite_eval)
    if hasattr(objective_module, "validate"):
        objective_module.validate(cfg)
    return cfg


def _validate_trainer(cfg: RunConfig) -> None:
    t = cfg.trainer
    if t.strategy not in ("auto", "ddp", "fsdp2"):
        raise ConfigError(f"trainer.strategy: expected auto, ddp or fsdp2, got {t.strategy!r}")
    if t.micro_batch_size < 1 or t.gradient_accumulation_steps < 1:
        raise ConfigError("trainer.micro_batch_size and trainer.gradient_accumulation_steps must be >= 1")
    if cfg.optim.scheduler not in ("linear", "cosine", "constant"):
        raise ConfigError(
            f"optim.scheduler: expected linear, cosine or constant, got {cfg.optim.scheduler!r}"
        )


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


def resolve_checkpoint(cfg: RunConfig) -> str | None:
    resume = cfg.trainer.resume_from
    if resume is None:
        return None
    path = Path(cfg.trainer.output_dir) / "checkpoints" / "last.ckpt" if resume == "last" else Path(resume)
    if not path.exists():
        raise ConfigError(f"trainer.resume_from: checkpoint not found: {path}")
    return str(path)


def check_output_dir(cfg: RunConfig) -> Path:
    """Refuse to overwrite a finished run unless resuming (nothing the user had is lost)."""
    out = Path(cfg.trainer.output_dir)
    if (out / "hf").exists() and cfg.trainer.resume_from is None:
        raise ConfigError(
            f"trainer.output_dir: {out} already holds an exported model; choose another output_dir "
            "(or set trainer.resume_from=last to continue that run)"
        )
    return out


def fit(cfg: RunConfig) -> FitResult:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from tulu_lightning.evaluation import GenerationAccuracyCallback
    from tulu_lightning.export import save_hf
    from tulu_lightning.tracking import lightning_logger, log_config

    out = check_output_dir(cfg)
    ckpt_path = resolve_checkpoint(cfg)
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    module, datamodule = build_objective(cfg)
    logger = lightning_logger(
        cfg.tracking, run_name=f"{cfg.objective}:{out.name}", tags={"objective": cfg.objective}
    )
    callbacks: list = [
        ModelCheckpoint(
            dirpath=out / "checkpoints",
            every_n_train_steps=cfg.trainer.checkpoint_every_n_steps,
            save_last=True,
            save_top_k=-1 if cfg.trainer.checkpoint_every_n_steps else 0,
            filename="step{step}",
            auto_insert_metric_name=False,
        )
    ]
    if cfg.eval.enabled:
        callbacks.append(
            GenerationAccuracyCallback(cfg.eval, list(datamodule.val_rows), getattr(cfg, "add_bos", False))
        )
    if cfg.suite_eval.enabled:
        from tulu_lightning.evaluation.callback import SuiteEvalCallback

        callbacks.append(SuiteEvalCallback(cfg.suite_eval))
    trainer = L.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=cfg.trainer.devices,
        num_nodes=cfg.trainer.num_nodes,
        strategy=make_strategy(cfg),
        precision=cfg.trainer.precision,
        max_epochs=cfg.trainer.max_epochs,
        max_steps=cfg.trainer.max_steps,
        logger=logger or False,
        callbacks=callbacks,
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        val_check_interval=cfg.trainer.val_check_interval,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # StepSampler shards the data itself
        default_root_dir=out,
        enable_model_summary=False,
    )
    if logger is not None and trainer.is_global_zero:
        log_config(logger.experiment, logger.run_id, cfg)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    if datamodule.val_items and module.last_validated_step != trainer.global_step:
        trainer.validate(module, datamodule=datamodule, verbose=False)  # the final model is always evaluated

    hf_dir = None
    if cfg.trainer.export:
        hf_dir = save_hf(module.model, module.tokenizer, out / "hf", trainer.is_global_zero)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if logger is not None and trainer.is_global_zero:
        _log_outputs(logger, cfg, out, hf_dir)
    return FitResult(logger.run_id if logger else None, out, hf_dir, metrics, module)


def _log_outputs(logger, cfg: RunConfig, out: Path, hf_dir: Path | None) -> None:
    client, run_id = logger.experiment, logger.run_id
    client.set_tag(run_id, "output_dir", str(out.resolve()))
    (out / "config.yaml").write_text(to_yaml(cfg))
    if hf_dir is not None:
        client.set_tag(run_id, "model_dir", str(hf_dir.resolve()))
        if cfg.tracking.log_model:
            client.log_artifacts(run_id, str(hf_dir), artifact_path="model")


def run(args) -> int:
    cfg = load_run_config(args.config, args.overrides)
    if args.print_config:
        print(to_yaml(cfg))
        return 0
    result = fit(cfg)
    if _is_global_zero():
        summary = ", ".join(f"{k}={v:.4g}" for k, v in sorted(result.metrics.items()))
        print(f"done: {result.output_dir} ({summary}); MLflow run {result.run_id} in {cfg.tracking.uri}")
    return 0


def _is_global_zero() -> bool:
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0"))) == 0


__all__ = ["FitResult", "build_objective", "fit", "load_run_config", "run"]
