"""`recipe`: the Tülu 3 pipeline as one command: SFT → DPO → (reward model →) RLVR → eval.

    python -m tulu_lightning recipe --config configs/demo/recipe.yaml
    python -m tulu_lightning recipe --config configs/demo/recipe.yaml output_dir=outputs/r2 dpo:optim.lr=5e-5

A recipe names its stages in order; each is a `fit` config (or an `eval` config) with overrides, started from an
earlier stage's export (`model_from`, by default the fit stage before it; `inputs` wires more keys, e.g. PPO's
`ppo.value_model` to the reward model's export). Stage `s` trains in `<output_dir>/<s>` as `fit` would, tracked in
the recipe's MLflow experiment as a run nested under the recipe's parent run.

Resumable stage by stage. A finished stage has written `<output_dir>/<s>/stage.json` (atomically, after its
export): rerunning the recipe skips it and reuses its export. An interrupted fit stage continues from its newest
checkpoint (`trainer.resume_from=last`, the same MLflow run); an interrupted eval stage is run again. A finished
stage whose resolved config has changed since (a key other than tracking's), or whose input stage has been run
again since, is an error naming the key: the recipe never silently mixes stages trained from different settings. To rerun it, delete its directory (or that
stage.json, and every later stage's) or choose a new `output_dir`.

On several processes (under torchrun, or a stage with `trainer.devices` > 1, whose first fit starts the others)
every process runs the recipe: each fit stage trains on all of them and returns only once the first process has
written its export; the first process alone records the recipe (markers, MLflow) and runs eval stages, while the
others wait for its marker before the next stage.

Command-line overrides are `key=value` on the recipe (`output_dir=...`) or `STAGE:key=value` on one stage's
config (`sft:trainer.max_epochs=2`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tulu_lightning.config import (
    MISSING,
    ConfigError,
    TrackingConfig,
    fingerprint,
    first_change,
    load_yaml,
    merge_config,
    require_files,
)
from tulu_lightning.files import file_lock, write_text
from tulu_lightning.tracking import readable_run_name

STAGE_DONE = "stage.json"  # in a stage's directory: written once the stage has finished (and exported)
RECIPE_STATE = "recipe.json"  # in the recipe's directory: its MLflow parent run


@dataclass
class StageConfig:
    name: str = MISSING  # the stage's directory under output_dir and its MLflow run's name
    fit: str | None = None  # a `fit` config (its trainer.output_dir and tracking are the recipe's) ...
    eval: str | None = None  # ... or an `eval` config, run on the model of `model_from`
    overrides: list[str] = field(default_factory=list)  # dotted key=value on that config
    # the stage whose export is this stage's model (model.name_or_path; an eval's `model`): a stage name,
    # "previous" (the nearest fit stage before this one; none for the first) or null (the config's own model)
    model_from: str | None = "previous"
    inputs: dict[str, str] = field(
        default_factory=dict
    )  # more keys set to a stage's export: {ppo.value_model: rm}


@dataclass
class RecipeConfig:
    name: str = MISSING  # the recipe's name: its MLflow experiment and parent run
    output_dir: str = MISSING  # each stage in <output_dir>/<stage name>
    stages: list[StageConfig] = field(default_factory=list)
    # every stage's tracking (its uri, experiment, log_model...); the experiment is the recipe's name by default
    tracking: TrackingConfig = field(default_factory=lambda: TrackingConfig(experiment="${name}"))


@dataclass
class Stage:
    """A stage resolved: its config (a fit RunConfig or an EvalConfig) and where it runs."""

    spec: StageConfig
    kind: str  # fit | eval
    directory: Path
    exports: dict[str, str]  # config key -> the stage whose export it is

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def done_file(self) -> Path:
        return self.directory / STAGE_DONE


@dataclass
class StageResult:
    name: str
    kind: str
    objective: str
    run_id: str | None
    metrics: dict[str, float]
    model: str | None  # the export (fit) or the model evaluated (eval)
    skipped: bool = False  # finished by an earlier invocation


# --- the config ------------------------------------------------------------------------------------------


def load_recipe(path: str, overrides: list[str] | None = None) -> tuple[RecipeConfig, list[Stage]]:
    """The recipe YAML + `key=value` overrides, and every stage's config loaded and validated (keys, types,
    ranges, files) before anything trains; `STAGE:key=value` overrides go to that stage."""
    overrides = list(overrides or [])
    stage_overrides = [o for o in overrides if ":" in o.split("=", 1)[0]]
    recipe_overrides = [o for o in overrides if o not in stage_overrides]
    cfg = merge_config(RecipeConfig, load_yaml(path), recipe_overrides, source=path)
    if not cfg.stages:
        raise ConfigError(f"{path}: stages: name at least one stage")
    for override in stage_overrides:
        name, rest = override.split(":", 1)
        spec = next((s for s in cfg.stages if s.name == name), None)
        if spec is None:
            raise ConfigError(f"override {override!r}: no stage named {name!r} in {path}")
        spec.overrides.append(rest)
    stages = resolve_stages(cfg, path)
    for stage in stages:
        stage_config(cfg, stage, stages, placeholder=True)  # every key, type and file checked now
    return cfg, stages


def resolve_stages(cfg: RecipeConfig, path: str) -> list[Stage]:
    stages: list[Stage] = []
    for i, spec in enumerate(cfg.stages):
        where = f"{path}: stages[{i}]"
        if not spec.name or not spec.name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(
                f"{where}.name: letters, digits, '_' and '-' only (it names a directory), got {spec.name!r}"
            )
        if any(s.name == spec.name for s in stages):
            raise ConfigError(f"{where}.name: {spec.name!r} names two stages")
        if (spec.fit is None) == (spec.eval is None):
            raise ConfigError(f"{where}: give one of fit (a fit config) or eval (an eval config)")
        require_files({f"{where}.{'fit' if spec.fit else 'eval'}": spec.fit or spec.eval})
        fits = [s for s in stages if s.kind == "fit"]
        exports = dict(spec.inputs)
        if spec.model_from == "previous":
            if fits:
                exports["model.name_or_path"] = fits[-1].name
        elif spec.model_from is not None:
            exports["model.name_or_path"] = spec.model_from
        for key, source in exports.items():
            if not any(s.name == source for s in fits):
                raise ConfigError(f"{where}: {key} from {source!r}: no fit stage of that name before it")
        if spec.eval is not None:
            exports = {("model" if k == "model.name_or_path" else k): v for k, v in exports.items()}
            if "model" not in exports:
                raise ConfigError(f"{where}: an eval stage needs model_from (a fit stage before it)")
        kind = "fit" if spec.fit else "eval"
        stages.append(Stage(spec, kind, Path(cfg.output_dir) / spec.name, exports))
    return stages


def export_dir(stage: Stage) -> Path:
    from tulu_lightning.train import EXPORT

    return stage.directory / EXPORT


def stage_config(cfg: RecipeConfig, stage: Stage, stages: list[Stage], placeholder: bool = False):
    """The stage's config: its file, its overrides, then the recipe's settings (output directory, tracking, the
    models from earlier stages). With `placeholder`, a key fed by an export not written yet names a stand-in
    (`recipe/<stage>`, shaped as a hub name), so that every other key, type and file is checked now."""
    by_name = {s.name: s for s in stages}
    wired = []
    for key, source in stage.exports.items():
        path = export_dir(by_name[source])
        wired.append(f"{key}={path}" if path.exists() or not placeholder else f"{key}=recipe/{source}")
    shared = ("uri", "experiment", "enabled", "log_model", "system_metrics")  # the recipe's, for every stage
    tracking = [f"tracking.{key}={getattr(cfg.tracking, key)}" for key in shared]
    spec = stage.spec
    if stage.kind == "fit":
        from tulu_lightning.train import load_run_config

        return load_run_config(
            spec.fit, [*spec.overrides, *wired, *tracking, f"trainer.output_dir={stage.directory}"]
        )
    from tulu_lightning.evaluation.config import load_eval_config

    return load_eval_config(spec.eval, [*spec.overrides, *wired, *tracking, f"output_dir={stage.directory}"])


def check_unchanged(stage: Stage, done: dict[str, Any], now: dict[str, Any]) -> None:
    change = first_change(done.get("config", {}), now)
    if change is not None:
        key, before, after = change
        raise ConfigError(
            f"stage {stage.name}: finished with {key}={before!r} ({stage.done_file}) but the recipe now says "
            f"{after!r}; to rerun it, delete {stage.directory} (and the later stages' directories) or choose a new "
            "output_dir"
        )


# --- running ----------------------------------------------------------------------------------------------


def run_recipe(cfg: RecipeConfig, stages: list[Stage], config_file: str | None = None) -> list[StageResult]:
    """Run the stages in order (skipping the finished ones), nested under the recipe's MLflow parent run."""
    from contextlib import nullcontext

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    lead = is_lead()  # under torchrun every process runs the recipe; the first one records it
    lock = (
        file_lock(out / ".recipe.lock", blocking=False, what=f"output_dir {out}") if lead else nullcontext()
    )
    with lock:
        parent = start_parent_run(cfg, out, config_file) if lead else None
        results: list[StageResult] = []
        status = "FAILED"
        try:
            for stage in stages:
                result = run_stage(cfg, stage, stages, parent, lead)
                results.append(result)
                log_stage_summary(cfg, parent, result)
            log_stage_curves(cfg, parent, results, out)
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            end_parent_run(cfg, parent, status)
    return results


def is_lead() -> bool:
    from tulu_lightning.prepared import global_rank

    return global_rank() == 0


def run_stage(
    cfg: RecipeConfig, stage: Stage, stages: list[Stage], parent: str | None, lead: bool = True
) -> StageResult:
    stage_cfg = stage_config(cfg, stage, stages)
    now = fingerprint(stage_cfg)
    by_name = {s.name: s for s in stages}
    # which run of each earlier stage it started from (the first process writes and checks the markers; the others
    # may get here before it has written the previous stage's)
    for source in sorted(set(stage.exports.values())) if lead else []:
        now[f"recipe.{source}.finished"] = json.loads(by_name[source].done_file.read_text())["finished"]
    if stage.done_file.is_file():
        done = json.loads(stage.done_file.read_text())
        if lead:
            check_unchanged(stage, done, now)
        say(f"stage {stage.name}: finished earlier ({stage.done_file}), not rerun")
        return StageResult(**{**done["result"], "skipped": True})
    stage_cfg.tracking.parent_run_id = parent
    config_name = Path(stage.spec.fit or stage.spec.eval or "").stem
    stage_cfg.tracking.run_name = readable_run_name(
        stage.name, getattr(stage_cfg, "objective", "eval"), config_name
    )
    if stage.kind == "eval" and not lead:  # an eval runs in the first process alone (lm-eval's own batching)
        if stage is not stages[-1]:
            wait_for_lead(stage)  # the next fit stage starts on every process together
        return StageResult(stage.name, "eval", "eval", None, {}, None, skipped=True)
    say(f"stage {stage.name}: {stage.kind} {stage.spec.fit or stage.spec.eval} -> {stage.directory}")
    result = run_fit_stage(stage, stage_cfg) if stage.kind == "fit" else run_eval_stage(stage, stage_cfg)
    if lead:
        finished = f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} ({time.time_ns()})"
        record = {"result": result.__dict__ | {"skipped": False}, "config": now, "finished": finished}
        write_text(stage.done_file, json.dumps(record, indent=2, default=str) + "\n")
    return result


def wait_for_lead(stage: Stage, poll_s: float = 2.0) -> None:
    """In a process other than the first: wait until the first has finished `stage` (its `stage.json`), rather
    than wait inside the next stage's first collective, which times out (30 min) long before an 8B evaluation
    ends. If this process's parent goes away meanwhile (Lightning's launcher: the parent *is* the first
    process) nobody will finish it: stop with an error. Under torchrun the agent stops every process itself."""
    from tulu_lightning.errors import CLIError

    parent = os.getppid()
    while not stage.done_file.is_file():
        if os.getppid() != parent:
            raise CLIError(
                f"stage {stage.name}: the first process stopped before finishing it; see its output"
            )
        time.sleep(poll_s)


def run_fit_stage(stage: Stage, cfg) -> StageResult:
    from tulu_lightning.train import CHECKPOINTS, fit, newest_checkpoint

    if newest_checkpoint(stage.directory / CHECKPOINTS) is not None:
        cfg.trainer.resume_from = "last"  # interrupted: continue from its newest checkpoint, same MLflow run
        say(f"stage {stage.name}: resuming from {newest_checkpoint(stage.directory / CHECKPOINTS)}")
    else:
        cfg.trainer.overwrite = True  # a start that wrote no checkpoint left nothing worth keeping
    result = fit(cfg, config_file=stage.spec.fit)
    return StageResult(
        stage.name,
        "fit",
        cfg.objective,
        result.run_id,
        result.metrics,
        str(result.hf_dir) if result.hf_dir else None,
    )


def run_eval_stage(stage: Stage, cfg) -> StageResult:
    from tulu_lightning.errors import CLIError
    from tulu_lightning.files import prepare_output_dir

    prepare_output_dir(cfg.output_dir, overwrite=True, option="output_dir")  # an unfinished eval: rerun whole
    try:
        from tulu_lightning.evaluation.runner import evaluate
    except ImportError as err:
        raise CLIError(
            f"stage {stage.name}: eval needs lm-evaluation-harness: pip install 'tulu_lightning[eval]' ({err})"
        ) from None
    report = evaluate(cfg)
    return StageResult(stage.name, "eval", "eval", report.run_id, dict(report.metrics), cfg.model)


# --- MLflow: the parent run -------------------------------------------------------------------------------


def start_parent_run(cfg: RecipeConfig, out: Path, config_file: str | None) -> str | None:
    """The recipe's parent run: the one this output directory started (kept in recipe.json), else a new one."""
    if not cfg.tracking.enabled:
        return None
    from mlflow import MlflowClient

    from tulu_lightning.tracking import continue_run, log_config, prepare_store, run_tags

    prepare_store(cfg.tracking)
    state_file = out / RECIPE_STATE
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    previous = state.get("parent_run_id")
    if previous and continue_run(cfg.tracking, previous, "recipe resumed"):
        return previous
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    experiment = client.get_experiment_by_name(cfg.tracking.experiment)
    tags = run_tags(
        {"recipe": cfg.name, "output_dir": str(out.resolve()), "mlflow.note.content": recipe_note(cfg)}
    )
    run = client.create_run(
        experiment.experiment_id, run_name=readable_run_name("recipe", cfg.name), tags=tags
    )
    log_config(client, run.info.run_id, cfg)
    if config_file:
        client.log_artifact(run.info.run_id, config_file, artifact_path="recipe")
    write_text(state_file, json.dumps({"parent_run_id": run.info.run_id}) + "\n")
    return run.info.run_id


def recipe_note(cfg: RecipeConfig) -> str:
    lines = [f"Recipe **{cfg.name}**: " + " → ".join(s.name for s in cfg.stages), ""]
    lines += [f"- {s.name}: `{s.fit or s.eval}` {' '.join(s.overrides)}" for s in cfg.stages]
    return "\n".join(lines)


def log_stage_summary(cfg: RecipeConfig, parent: str | None, result: StageResult) -> None:
    """The stage's held-out figures on the parent run too (`<stage>/val/accuracy`), so the recipe reads at a glance."""
    if parent is None:
        return
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    for key, value in headline_metrics(result).items():
        client.log_metric(parent, f"{result.name}/{key}", value)


def log_stage_curves(cfg: RecipeConfig, parent: str | None, results: list[StageResult], out: Path) -> None:
    """Every fit stage's training curves side by side (`<output_dir>/training_curves.png`), logged to the parent."""
    if parent is None:
        return
    from mlflow import MlflowClient

    from tulu_lightning.plots import run_histories, training_curves
    from tulu_lightning.tracking import save_figure

    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    fits = {r.name: r.run_id for r in results if r.kind == "fit" and r.run_id is not None}
    if fits:
        save_figure(training_curves(run_histories(client, fits)), out / "training_curves.png", client, parent)


def end_parent_run(cfg: RecipeConfig, parent: str | None, status: str) -> None:
    if parent is not None:
        from mlflow import MlflowClient

        MlflowClient(tracking_uri=cfg.tracking.uri).set_terminated(parent, status=status)


# --- the summary ------------------------------------------------------------------------------------------

HEADLINE_KEYS = ("val/accuracy", "val/preference_accuracy", "val/rewards/accuracy", "dev/mean", "unseen/mean")


def headline_metrics(result: StageResult) -> dict[str, float]:
    return {k: result.metrics[k] for k in HEADLINE_KEYS if k in result.metrics}


def summary(cfg: RecipeConfig, results: list[StageResult], parent: str | None, seconds: float) -> str:
    lines = [f"recipe {cfg.name}: {len(results)} stages in {seconds / 60:.1f} min ({cfg.output_dir})"]
    for r in results:
        figures = ", ".join(f"{k} {v:.3f}" for k, v in headline_metrics(r).items()) or "no held-out figure"
        where = "(finished earlier) " if r.skipped else ""
        lines.append(f"  {r.name:<10} {r.objective:<13} {figures}  {where}{r.model or ''}")
    if parent is not None:
        from mlflow import MlflowClient

        from tulu_lightning.terminal import mlflow_ui_command

        experiment_id = MlflowClient(tracking_uri=cfg.tracking.uri).get_run(parent).info.experiment_id
        lines.append(f"MLflow: experiment {cfg.tracking.experiment!r}, parent run {parent}; see it with")
        lines.append(f"  {mlflow_ui_command(cfg.tracking.uri)}   (pip install 'tulu_lightning[ui]')")
        # the model-training view (MLflow 3's UI otherwise opens on its GenAI view until switched once)
        base = (
            cfg.tracking.uri.rstrip("/") if cfg.tracking.uri.startswith("http") else "http://127.0.0.1:5000"
        )
        url = f"{base}/#/experiments/{experiment_id}/runs/{parent}?workflowType=machine_learning"
        lines.append(f"  {url}")
    return "\n".join(lines)


def say(line: str) -> None:
    if is_lead():
        print(f"[recipe] {line}", flush=True)


__all__ = ["RecipeConfig", "StageConfig", "StageResult", "load_recipe", "run_recipe", "summary"]
