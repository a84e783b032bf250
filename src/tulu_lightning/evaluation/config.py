"""The `eval` config: which model, which suites and tasks, where the data is, code execution and the judge.

Light (no lm-eval, no torch) so that `--help` and config errors answer at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tulu_lightning.config import (
    MISSING,
    ConfigError,
    SuiteEvalConfig,
    TrackingConfig,
    load_yaml,
    merge_config,
    require_model_dir,
)
from tulu_lightning.evaluation.judge import JudgeConfig
from tulu_lightning.evaluation.sandbox import CodeExecutionConfig
from tulu_lightning.evaluation.suites import SUITES

BACKENDS = ("hf", "vllm")


@dataclass
class EvalConfig:
    model: str = MISSING  # a Hugging Face model directory (e.g. outputs/demo/sft/hf) or hub name
    backend: str = "hf"  # hf (lm-eval's HFLM) | vllm (lm-eval's VLLM, GPU)
    model_args: dict[str, Any] = field(default_factory=dict)  # more arguments of lm-eval's model class
    batch_size: int = 8  # lm-eval batch size (requests per forward)
    device: str | None = None  # hf backend; default: cuda when available, else cpu
    suites: list[str] = field(default_factory=lambda: ["tulu3_dev", "tulu3_unseen"])  # which suites to run
    tasks: list[str] | None = None  # only these tasks of the suites (as reported: gsm8k, math, ...)
    local_data: str | None = None  # local copies: <local_data>/<hub dataset>[/<config>]/<split>.jsonl
    limit: int | None = None  # at most this many questions per task (a quick look, not a score)
    max_gen_toks: int | None = None  # cap every task's new tokens (a quick look); None: each task's setting
    task_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> lm-eval config keys
    system_instruction: str | None = None  # a system prompt before every question (lm-eval's)
    seed: int = 1234  # sampling, few-shot draws, GPQA's option shuffle
    code_execution: CodeExecutionConfig = field(default_factory=CodeExecutionConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    output_dir: str = "outputs/eval"  # metrics.json and the per-question outputs
    log_samples: bool = True  # per-question outputs as MLflow tables and JSONL
    tracking: TrackingConfig = field(default_factory=lambda: TrackingConfig(experiment="evaluation"))


def load_eval_config(path: str | None, overrides: list[str] | None = None, **values: Any) -> EvalConfig:
    """YAML (optional) + `values` (from command-line options, when not None) + dotted overrides, validated."""
    data = load_yaml(path) if path else {}
    data.update({k: v for k, v in values.items() if v is not None})
    cfg = merge_config(EvalConfig, data, overrides, source=path or "eval")
    validate(cfg)
    return cfg


def validate(cfg: EvalConfig) -> None:
    if cfg.backend not in BACKENDS:
        raise ConfigError(f"backend: expected one of {', '.join(BACKENDS)}, got {cfg.backend!r}")
    known = validate_selection(cfg)
    for name in cfg.task_overrides:
        if name not in known:
            raise ConfigError(f"task_overrides: {name!r} is in none of {', '.join(cfg.suites)}")
    if cfg.judge.base_url and not cfg.judge.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"judge.base_url: expected an http(s) URL, got {cfg.judge.base_url!r}")
    require_model_dir("model", cfg.model)


def validate_selection(cfg: EvalConfig | SuiteEvalConfig, prefix: str = "") -> set[str]:
    """Checks what `eval` and the training callback share (suites, tasks, sizes, data, code execution);
    returns the task names of the selected suites."""
    if not cfg.suites:
        raise ConfigError(f"{prefix}suites: name at least one suite (tulu3_dev, tulu3_unseen)")
    for i, name in enumerate(cfg.suites):
        if name not in SUITES:
            raise ConfigError(f"{prefix}suites[{i}]: unknown suite {name!r} (known: {', '.join(SUITES)})")
    known = {t.name for s in cfg.suites for t in SUITES[s].tasks}
    for i, name in enumerate(cfg.tasks or []):
        if name not in known:
            raise ConfigError(
                f"{prefix}tasks[{i}]: {name!r} is in none of {', '.join(cfg.suites)} (known: {', '.join(sorted(known))})"
            )
    for key in ("batch_size", "limit", "max_gen_toks"):
        value = getattr(cfg, key)
        if value is not None and value < 1:
            raise ConfigError(f"{prefix}{key}: must be >= 1, got {value}")
    if cfg.local_data is not None and not Path(cfg.local_data).is_dir():
        raise ConfigError(f"{prefix}local_data: directory not found: {cfg.local_data}")
    if cfg.code_execution.timeout_s <= 0 or cfg.code_execution.memory_mb < 64:
        raise ConfigError(f"{prefix}code_execution: timeout_s must be > 0 and memory_mb >= 64")
    return known


def validate_suite_eval(cfg: SuiteEvalConfig) -> None:
    """The `suite_eval` section of a fit config (checked at start-up, before any model loads)."""
    if not cfg.enabled:
        return
    validate_selection(cfg, prefix="suite_eval.")
    if cfg.every_n_validations < 1:
        raise ConfigError(f"suite_eval.every_n_validations: must be >= 1, got {cfg.every_n_validations}")


__all__ = [
    "BACKENDS",
    "EvalConfig",
    "load_eval_config",
    "validate",
    "validate_selection",
    "validate_suite_eval",
]
