"""`eval`: Tülu 3's evaluation scheme on generation tasks scored by verifiers.

Tasks are grouped into a *development* suite (looked at while building the recipe) and an *unseen* suite (kept
aside to measure generalisation). Each task greedy-decodes its prompts through the rollout interface and scores
the answers with a verifier; the run logs per-task and per-suite accuracy, and per-row verdicts, to MLflow.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tulu_lightning.config import (
    MISSING,
    ConfigError,
    GenerationEvalConfig,
    TrackingConfig,
    load_yaml,
    merge_config,
    require_files,
)
from tulu_lightning.files import atomic_open, check_outputs, prepare_output_dir, write_text

SUITES = ("dev", "unseen")


@dataclass
class EvalTask:
    name: str = MISSING
    file: str = (
        MISSING  # JSONL/Parquet rows in the RLVR schema: `messages`, `ground_truth`, `dataset` (optional)
    )
    verifier: str = "gsm8k"  # used for rows that do not name their own `dataset`
    suite: str = "dev"  # dev | unseen
    max_prompts: int = 1000


@dataclass
class EvalConfig:
    model: str = MISSING  # a Hugging Face model directory or hub name
    tasks: list[EvalTask] = field(default_factory=list)
    max_new_tokens: int = 256
    batch_size: int = 32
    output_dir: str = "outputs/eval"
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


def load_eval_config(path: str, overrides: list[str] | None = None) -> EvalConfig:
    cfg = merge_config(EvalConfig, load_yaml(path), overrides, source=path)
    if not cfg.tasks:
        raise ConfigError(f"{path}: 'tasks' lists no task")
    for i, task in enumerate(cfg.tasks):
        if task.suite not in SUITES:
            raise ConfigError(f"tasks[{i}].suite: expected one of {SUITES}, got {task.suite!r}")
        require_files({f"tasks[{i}].file": task.file})
    return cfg


def evaluate(cfg: EvalConfig) -> dict[str, float]:
    """Accuracy per task (`<suite>/<task>`) and per suite (`<suite>/mean`, the unweighted mean of its tasks)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tulu_lightning.data import read_file_rows
    from tulu_lightning.evaluation import generation_accuracy
    from tulu_lightning.schemas import Schema, validate_splits
    from tulu_lightning.tracking import mlflow_run

    # every task's rows validated (RLVR prompt schema: messages, ground_truth, dataset) before the model loads
    task_rows = validate_splits(
        [
            (
                read_file_rows(task.file)[: task.max_prompts],
                Schema("prompt", default_verifier=task.verifier, default_key=f"tasks[{i}].verifier"),
            )
            for i, task in enumerate(cfg.tasks)
        ]
    )
    tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    model = AutoModelForCausalLM.from_pretrained(cfg.model).eval()
    out_dir = Path(cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics: dict[str, float] = {}
    with mlflow_run(cfg.tracking, cfg, run_name=f"eval:{Path(cfg.model).name}") as mlflow:
        for task, rows in zip(cfg.tasks, task_rows):
            settings = GenerationEvalConfig(
                enabled=True, verifier=task.verifier, max_new_tokens=cfg.max_new_tokens,
                max_prompts=task.max_prompts, batch_size=cfg.batch_size,
            )  # fmt: skip
            result = generation_accuracy(model, tokenizer, rows, settings)
            metrics[f"{task.suite}/{task.name}"] = result.accuracy
            verdicts = out_dir / f"{task.name}.jsonl"
            with atomic_open(verdicts) as f:
                for row, response, score in zip(rows, result.responses, result.scores):
                    f.write(
                        json.dumps(
                            {"ground_truth": row["ground_truth"], "response": response, "score": score}
                        )
                        + "\n"
                    )
            if mlflow:
                mlflow.log_artifact(str(verdicts), artifact_path="verdicts")
        for suite in SUITES:
            scores = [v for k, v in metrics.items() if k.startswith(suite + "/")]
            if scores:
                metrics[f"{suite}/mean"] = sum(scores) / len(scores)
        write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        if mlflow:
            mlflow.log_metrics(metrics)
            mlflow.log_dict(
                {"tasks": [asdict(t) for t in cfg.tasks], "metrics": metrics}, "eval_summary.json"
            )
    return metrics


def run(args) -> int:
    cfg = load_eval_config(args.config, args.overrides)
    out_dir = Path(cfg.output_dir)
    outputs = [out_dir / "metrics.json", *(out_dir / f"{task.name}.jsonl" for task in cfg.tasks)]
    check_outputs(outputs, [cfg.model, args.config, *(task.file for task in cfg.tasks)])
    prepare_output_dir(out_dir, overwrite=args.overwrite, option="output_dir")
    for name, value in evaluate(cfg).items():
        print(f"{name:40s} {value:.4f}")
    return 0
