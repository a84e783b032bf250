"""Running the suites: each task through lm-eval, its score under `<suite prefix>/<task>`, the suite means, and
everything to MLflow (metrics, per-question tables, the lm-eval config and library versions as params).

Tasks run one at a time (a progress bar over the tasks, and lm-eval's own over each task's requests), each with
its own chat setting. A task that needs code execution or a judge that is not configured is skipped with one
line; a task that fails is reported with one line (the traceback goes to `errors.log`) and the others still
run. A suite's mean is the unweighted mean of the tasks that ran, and says which ones those are.
"""

from __future__ import annotations

import json
import math
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tulu_lightning.evaluation.config import EvalConfig
from tulu_lightning.evaluation.suites import SUITES, Suite, SuiteTask
from tulu_lightning.files import write_text

SAMPLE_TEXT_CHARS = 20_000  # longest prompt or response kept per row of the per-question tables


@dataclass
class TaskOutcome:
    suite: Suite
    task: SuiteTask
    status: str  # scored | skipped | failed
    score: float | None = None
    reason: str = ""  # why skipped or failed
    # every numeric metric the task reported, as "<metric>,<filter>" ("<subtask>/<metric>,<filter>" in a group)
    metrics: dict[str, float] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    configs: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.suite.prefix}/{self.task.name}"


@dataclass
class EvalReport:
    outcomes: list[TaskOutcome]
    metrics: dict[str, float]  # dev/<task>, dev/mean, ...
    coverage: dict[str, list[str]]  # dev/mean -> the tasks it averages
    run_id: str | None = None


def selected_tasks(suite_names: list[str], only: list[str] | None = None) -> list[tuple[Suite, SuiteTask]]:
    return [
        (SUITES[name], task)
        for name in suite_names
        for task in SUITES[name].tasks
        if only is None or task.name in only
    ]


def skip_reason(task: SuiteTask, code_enabled: bool, judge_configured: bool) -> str | None:
    if task.needs == "code" and not code_enabled:
        return (
            "needs code execution (set code_execution.enabled=true to run model-written code in the sandbox)"
        )
    if task.needs == "judge" and not judge_configured:
        return "needs a judge (set judge.base_url to an OpenAI-compatible endpoint)"
    return None


def run_task(
    lm,
    library,
    suite: Suite,
    task: SuiteTask,
    *,
    limit: int | None = None,
    max_gen_toks: int | None = None,
    overrides: dict[str, Any] | None = None,
    system_instruction: str | None = None,
    seed: int = 1234,
    log_samples: bool = True,
    confirm_run_unsafe_code: bool = False,
) -> TaskOutcome:
    """One suite task through lm-eval's `evaluate` on `lm` (any lm-eval model: hf, vllm, the live module)."""
    from lm_eval.evaluator import evaluate

    start = time.monotonic()
    seed_everything(seed)  # before loading: some tasks shuffle while reading their data (GPQA's options)
    loaded = library.load([task.task])
    for task_obj in loaded["tasks"].values():
        task_obj.set_fewshot_seed(seed=seed)
        if task_obj.get_config("num_fewshot") is None:
            task_obj.set_config("num_fewshot", 0)
        if max_gen_toks is not None and task_obj.get_config("output_type") == "generate_until":
            task_obj.set_config("generation_kwargs", {"max_gen_toks": max_gen_toks}, update=True)
        for key, value in (overrides or {}).items():
            task_obj.set_config(key, value, update=isinstance(value, dict))
    results = evaluate(
        lm=lm,
        task_dict=loaded,
        limit=limit,
        bootstrap_iters=0,
        log_samples=log_samples,
        system_instruction=system_instruction,
        apply_chat_template=task.chat,
        fewshot_as_multiturn=task.chat and task.fewshot_as_multiturn,
        confirm_run_unsafe_code=confirm_run_unsafe_code,
    )
    outcome = TaskOutcome(suite, task, "scored", seconds=time.monotonic() - start)
    if results is None:  # not rank 0
        return outcome
    rows = {**results["results"], **results.get("groups", {})}
    mine = rows.get(task.task, {})
    if task.metric not in mine:
        reported = ", ".join(k for k, v in mine.items() if _number(v) is not None)
        raise KeyError(f"{task.task} did not report {task.metric!r} (reported: {reported or 'nothing'})")
    outcome.score = float(mine[task.metric])
    for name, values in rows.items():
        for key, value in values.items():
            number = _number(value)
            if number is not None and "_stderr" not in key and key not in ("sample_len",):
                outcome.metrics[key if name == task.task else f"{name}/{key}"] = number
    outcome.samples = [
        sample_row(name, s) for name, rows_ in results.get("samples", {}).items() for s in rows_
    ]
    outcome.configs = results.get("configs", {})
    outcome.versions = results.get("versions", {})
    return outcome


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or isinstance(value, bool) else number


def sample_row(task_name: str, sample: dict[str, Any]) -> dict[str, Any]:
    """One question's row of the per-question table: prompt, responses, what the filters kept, the scores."""
    arguments = sample.get("arguments") or [[""]]
    prompt = arguments[0][0] if arguments and arguments[0] else ""
    row: dict[str, Any] = {
        "task": task_name,
        "doc_id": sample.get("doc_id"),
        "filter": sample.get("filter"),
        "prompt": _text(prompt),
        "response": _text(_flatten(sample.get("resps"))),
        "filtered": _text(_flatten(sample.get("filtered_resps"))),
        "target": _text(sample.get("target")),
    }
    for metric in sample.get("metrics", []):
        value = sample.get(metric)
        row[metric] = _number(value) if _number(value) is not None else _text(value)
    return row


def _flatten(value: Any) -> Any:
    while isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    return value


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= SAMPLE_TEXT_CHARS else text[:SAMPLE_TEXT_CHARS] + "…"


def suite_means(outcomes: list[TaskOutcome]) -> tuple[dict[str, float], dict[str, list[str]]]:
    """`<prefix>/mean` over each suite's scored tasks, and which tasks each mean covers."""
    means, coverage = {}, {}
    for prefix in dict.fromkeys(o.suite.prefix for o in outcomes):
        scored = [o for o in outcomes if o.suite.prefix == prefix and o.score is not None]
        if scored:
            means[f"{prefix}/mean"] = sum(o.score for o in scored) / len(scored)  # type: ignore[misc]
            coverage[f"{prefix}/mean"] = [o.task.name for o in scored]
    return means, coverage


def build_model(cfg: EvalConfig):
    from tulu_lightning.evaluation import lm_eval_bridge

    if cfg.backend == "vllm":
        return lm_eval_bridge.vllm_model(cfg.model, seed=cfg.seed, **cfg.model_args)
    return lm_eval_bridge.hf_model(cfg.model, batch_size=cfg.batch_size, device=cfg.device, **cfg.model_args)


def evaluate(cfg: EvalConfig, lm=None) -> EvalReport:
    """Run the configured suites on the configured model (or on `lm`, any lm-eval model); log to MLflow;
    write `<output_dir>/metrics.json`."""
    from tqdm import tqdm

    from tulu_lightning.evaluation import judge, sandbox
    from tulu_lightning.evaluation.lm_eval_bridge import TaskLibrary
    from tulu_lightning.tracking import mlflow_run

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = selected_tasks(cfg.suites, cfg.tasks)
    outcomes: list[TaskOutcome] = []
    judge_scope = judge.judging(cfg.judge) if cfg.judge.configured else _nothing()
    with (
        mlflow_run(cfg.tracking, cfg, run_name=f"eval:{Path(cfg.model).name}") as mlflow,
        TaskLibrary(cfg.local_data) as library,
        sandbox.code_execution(cfg.code_execution),
        judge_scope,
    ):
        if mlflow is not None:
            mlflow.log_params(library_versions() | {"eval.local_tasks": len(library.local_tasks)})
        lm = lm if lm is not None else build_model(cfg)
        bar = tqdm(plan, desc="eval", unit="task", file=sys.stderr, dynamic_ncols=True,
                   bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} tasks [{elapsed}<{remaining}{postfix}]")  # fmt: skip
        for suite, task in bar:
            bar.set_postfix_str(f"{suite.prefix}/{task.name}")
            started = time.perf_counter()
            outcome = _run_or_report(lm, library, suite, task, cfg, out)
            outcomes.append(outcome)
            if outcome.score is not None:  # each figure as soon as it is known
                say(
                    f"{outcome.key}: {outcome.score:.4f} ({task.metric}, {time.perf_counter() - started:.0f} s)"
                )
            if mlflow is not None:
                log_outcome(mlflow, outcome, library)
        bar.close()
        means, coverage = suite_means(outcomes)
        metrics = {o.key: o.score for o in outcomes if o.score is not None} | means
        _print_summary(outcomes, means, coverage, plan)
        report = EvalReport(outcomes, metrics, coverage, mlflow.active_run().info.run_id if mlflow else None)
        write_text(out / "metrics.json", json.dumps(summary(report), indent=2) + "\n")
        if mlflow is not None:
            mlflow.log_metrics(means)
            for key, tasks in coverage.items():
                mlflow.set_tag(f"{key}.tasks", ",".join(tasks))
            mlflow.log_artifact(str(out / "metrics.json"))
    return report


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _run_or_report(lm, library, suite: Suite, task: SuiteTask, cfg: EvalConfig, out: Path) -> TaskOutcome:
    reason = skip_reason(task, cfg.code_execution.enabled, cfg.judge.configured)
    key = f"{suite.prefix}/{task.name}"
    if reason:
        say(f"skip {key}: {reason}")
        return TaskOutcome(suite, task, "skipped", reason=reason)
    try:
        outcome = run_task(
            lm, library, suite, task, limit=cfg.limit, max_gen_toks=cfg.max_gen_toks,
            overrides=cfg.task_overrides.get(task.name), system_instruction=cfg.system_instruction, seed=cfg.seed,
            log_samples=cfg.log_samples, confirm_run_unsafe_code=cfg.code_execution.enabled,
        )  # fmt: skip
    except Exception as err:  # one task's failure is reported, the others still run
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        say(f"error {key}: {type(err).__name__}: {first_line} (traceback in {out / 'errors.log'})")
        with open(out / "errors.log", "a") as f:
            f.write(f"--- {key}\n{traceback.format_exc()}\n")
        return TaskOutcome(suite, task, "failed", reason=first_line)
    if cfg.log_samples and outcome.samples:
        samples_dir = out / "samples"
        samples_dir.mkdir(exist_ok=True)
        with open(samples_dir / f"{suite.prefix}_{task.name}.jsonl", "w") as f:
            for row in outcome.samples:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return outcome


def say(line: str) -> None:
    """One line on stderr, above the progress bar (not appended to it)."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("lm_eval", "transformers", "torch", "datasets", "vllm"):
        try:
            versions[f"version.{package}"] = version(package)
        except PackageNotFoundError:
            continue
    return versions


def log_outcome(mlflow, outcome: TaskOutcome, library) -> None:
    """Metrics, the per-question table, and the task's lm-eval config (params, and in full as an artifact)."""
    key = outcome.key
    mlflow.set_tag(
        f"{key}.status", outcome.status if not outcome.reason else f"{outcome.status}: {outcome.reason}"
    )
    if outcome.score is None:
        return
    metrics = {key: outcome.score, f"{key}/seconds": outcome.seconds}
    metrics |= {f"{key}/{_metric_name(k)}": v for k, v in outcome.metrics.items()}
    mlflow.log_metrics(metrics)
    task_cfg = outcome.configs.get(outcome.task.task) or next(iter(outcome.configs.values()), {})
    params = {
        f"{key}.lm_eval_task": outcome.task.task,
        f"{key}.metric": outcome.task.metric,
        f"{key}.chat": outcome.task.chat,
        f"{key}.num_fewshot": task_cfg.get("num_fewshot"),
        f"{key}.dataset": _dataset_label(task_cfg, library),
        f"{key}.generation_kwargs": json.dumps(task_cfg.get("generation_kwargs"), default=str)[:500],
        f"{key}.version": json.dumps(outcome.versions, default=str)[:500],
    }
    mlflow.log_params(params)
    mlflow.log_dict(outcome.configs, f"lm_eval_configs/{outcome.suite.prefix}_{outcome.task.name}.json")
    if outcome.samples:
        columns = list(dict.fromkeys(k for row in outcome.samples for k in row))
        table = {c: [row.get(c) for row in outcome.samples] for c in columns}
        mlflow.log_table(data=table, artifact_file=f"samples/{outcome.suite.prefix}_{outcome.task.name}.json")


def _dataset_label(task_cfg: dict[str, Any], library) -> str:
    kwargs = task_cfg.get("dataset_kwargs") or {}
    if task_cfg.get("dataset_path") == "json" and isinstance(kwargs.get("data_files"), dict):
        return "local: " + ", ".join(sorted(str(v) for v in kwargs["data_files"].values()))[:480]
    return "/".join(str(p) for p in (task_cfg.get("dataset_path"), task_cfg.get("dataset_name")) if p)


def _metric_name(key: str) -> str:
    """lm-eval's "<metric>,<filter>" (and "<subtask>/<metric>,<filter>") as an MLflow metric name."""
    return "".join(c if c.isalnum() or c in "-_./ " else "_" for c in key.replace(",", "/"))


def summary(report: EvalReport) -> dict[str, Any]:
    return {
        "metrics": report.metrics,
        "coverage": report.coverage,
        "tasks": {
            o.key: {"status": o.status, "score": o.score, "reason": o.reason or None, "metrics": o.metrics}
            for o in report.outcomes
        },
    }


def _print_summary(outcomes, means, coverage, plan) -> None:
    for outcome in outcomes:
        if outcome.score is not None:
            print(f"{outcome.key:<28} {outcome.score:.4f}   ({outcome.task.metric})")
    for key, value in means.items():
        prefix = key.split("/")[0]
        total = sum(1 for suite, _ in plan if suite.prefix == prefix)
        missing = [o.task.name for o in outcomes if o.suite.prefix == prefix and o.score is None]
        note = f"; not in it: {', '.join(missing)}" if missing else ""
        print(f"{key:<28} {value:.4f}   (mean of {len(coverage[key])} of {total} tasks{note})")


__all__ = [
    "EvalReport",
    "TaskOutcome",
    "evaluate",
    "run_task",
    "selected_tasks",
    "skip_reason",
    "suite_means",
]
