"""Prompt Waywardness (Khashabi et al., NAACL 2022): how faithfully a tuned continuous prompt reads as text.

discretize and faithfulness (`projection.py`): each prompt vector -> its nearest token in the frozen
            input-embedding matrix; word-level F1 of the projected text against the target text
sweep: target texts × γ × seeds, one prompt-tuning fit each (MLflow: accuracy, F1, distance, projected text),
       then a summary run with the table, an accuracy-vs-F1 plot (`plots.py`) and the paper's selection rule:
       per target text, the γ with the best accuracy among those whose F1 > 0.98.
       Resumable (`--resume`): each finished fit leaves `runs/<name>/result.json`, and the sweep's `sweep.json`
       holds its config and MLflow run; an interrupted sweep continues with its finished fits kept, its unfinished
       ones run again, under the same MLflow run; a config that has changed since is an error naming the key.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from tulu_lightning.config import ConfigError, fingerprint, first_change, load_yaml, merge_config
from tulu_lightning.files import write_text
from tulu_lightning.objectives.prompt_tuning import PromptTuningConfig, load_task_rows, prefix_and_choices
from tulu_lightning.objectives.prompt_tuning import validate as validate_prompt_tuning
from tulu_lightning.projection import METRICS, mean_distance, project, projected_text, projection_f1

# --- the sweep config ------------------------------------------------------------------------------------


@dataclass
class PretrainSection:
    """Train the tiny model (model.tiny) as a plain LM on the task's filled-in templates before freezing it,
    so that a from-scratch demo model can read the task at all. 0 steps: use the model as loaded."""

    steps: int = 0  # optimizer steps of the pretraining (0: none)
    lr: float = 3e-3  # its peak learning rate, decayed linearly to 0
    batch_size: int = 16  # its examples per step


@dataclass
class SweepSection:
    target_texts: list[str] = field(default_factory=list)  # the texts the prompt is pulled toward
    target_file: str | None = None  # more target texts, one a line
    # weights of the waywardness term swept (one run per target text × γ × seed)
    gammas: list[float] = field(default_factory=lambda: [0.0, 1e-4, 5e-4, 1e-3, 3e-3, 5e-3, 1e-2, 3e-2])
    seeds: list[int] = field(default_factory=lambda: [0])  # trainer seeds, one run each
    metric: str = "euclidean"  # the projection's nearest-neighbour metric
    f1_threshold: float = 0.98  # the paper's selection rule: best accuracy among γ with F1 above this
    out_dir: str = "outputs/waywardness"  # summary, plots, runs/ and base_lm/ of the sweep
    pretrain: PretrainSection = field(default_factory=PretrainSection)


@dataclass
class WaywardnessConfig(PromptTuningConfig):
    sweep: SweepSection = field(default_factory=SweepSection)


def load_config(path: str, overrides: list[str] | None = None) -> WaywardnessConfig:
    cfg = merge_config(WaywardnessConfig, load_yaml(path), overrides, source=path)
    sweep = cfg.sweep
    if sweep.target_file:
        if not Path(sweep.target_file).is_file():
            raise ConfigError(f"sweep.target_file: file not found: {sweep.target_file}")
        lines = Path(sweep.target_file).read_text(encoding="utf-8").splitlines()
        sweep.target_texts += [line.strip() for line in lines if line.strip()]
    if not sweep.target_texts:
        raise ConfigError("sweep.target_texts: give at least one target text")
    if not sweep.gammas or any(g < 0 for g in sweep.gammas):
        raise ConfigError(f"sweep.gammas: need one or more values >= 0, got {sweep.gammas}")
    if sweep.metric not in METRICS:
        raise ConfigError(f"sweep.metric: expected one of {METRICS}, got {sweep.metric!r}")
    if sweep.pretrain.steps and cfg.model.name_or_path:
        raise ConfigError("sweep.pretrain.steps: only for a tiny model built from scratch (model.tiny)")
    cfg.prompt_tuning.target_text = sweep.target_texts[0]
    cfg.prompt_tuning.metric = sweep.metric
    validate_prompt_tuning(cfg)
    return cfg


# --- a frozen LM that knows the task format (demo) ---------------------------------------------------


def pretrain_task_lm(cfg: WaywardnessConfig, out_dir: Path) -> Path:
    """Train `model.tiny` as a causal LM on '<bos>{text} It was {verbalizer}' for `sweep.pretrain.steps`
    steps and save it as a Hugging Face directory (the frozen model of every run of the sweep)."""
    from tulu_lightning.export import save_hf
    from tulu_lightning.models import load_causal_lm, load_tokenizer
    from tulu_lightning.objectives.prompt_tuning import label_index

    task, pretrain = cfg.prompt_tuning.task, cfg.sweep.pretrain
    rows = load_task_rows(cfg, "train")
    texts = []
    for index, row in enumerate(rows):
        prefix, choices = prefix_and_choices(task, str(row[task.text_field]))
        texts.append(prefix + choices[label_index(row, task, f"training data row {index}")])
    tokenizer = load_tokenizer(cfg.model, texts=[*texts, *cfg.sweep.target_texts])
    model = load_causal_lm(cfg.model, tokenizer, seed=cfg.trainer.seed)
    encoded = [[tokenizer.bos_token_id, *tokenizer(t, add_special_tokens=False)["input_ids"]] for t in texts]
    optimizer = torch.optim.AdamW(model.parameters(), lr=pretrain.lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(cfg.trainer.seed)
    model.train()
    for step in range(pretrain.steps):
        for group in optimizer.param_groups:
            group["lr"] = pretrain.lr * (1 - step / pretrain.steps)
        picked = torch.randint(len(encoded), (pretrain.batch_size,), generator=generator).tolist()
        width = max(len(encoded[i]) for i in picked)
        input_ids = torch.tensor(
            [encoded[i] + [tokenizer.pad_token_id] * (width - len(encoded[i])) for i in picked]
        )
        mask = (torch.arange(width) < torch.tensor([len(encoded[i]) for i in picked])[:, None]).long()
        labels = input_ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    print(f"pretrained the task LM for {pretrain.steps} steps (last loss {float(loss):.3f}) -> {out_dir}")
    return save_hf(model, tokenizer, out_dir)


# --- the sweep -----------------------------------------------------------------------------------------


@dataclass
class RunResult:
    target_index: int
    target_text: str
    gamma: float
    seed: int
    accuracy: float
    f1: float
    distance: float
    projected_text: str
    run_id: str | None


SWEEP_STATE = "sweep.json"  # in sweep.out_dir: the sweep's config fingerprint and MLflow run
RUN_RESULT = "result.json"  # in each fit's directory runs/<name>: written once it has finished


def run_one(
    cfg: WaywardnessConfig, target_index: int, gamma: float, seed: int, resume: bool = False
) -> RunResult:
    """One prompt-tuning fit; its accuracy, projection F1, distance and projected text logged to its run. With
    `resume`, a fit that finished earlier (its result.json) is not run again, and an unfinished one is replaced."""
    from tulu_lightning.train import fit

    run_cfg = copy.deepcopy(cfg)
    target = cfg.sweep.target_texts[target_index]
    name = f"target{target_index}_gamma{gamma:g}_seed{seed}"
    run_dir = Path(cfg.sweep.out_dir) / "runs" / name
    if resume and (run_dir / RUN_RESULT).is_file():
        return RunResult(**json.loads((run_dir / RUN_RESULT).read_text()))
    run_cfg.prompt_tuning.target_text = target
    run_cfg.prompt_tuning.gamma = gamma
    run_cfg.trainer.seed = seed
    run_cfg.trainer.output_dir = str(run_dir)
    run_cfg.trainer.overwrite = cfg.trainer.overwrite or resume  # resume: what an interrupted fit left
    run_cfg.trainer.export = False
    run_cfg.tracking.run_name = f"waywardness:{name}"
    result = fit(run_cfg, progress_bar=False)  # the sweep shows one bar over all its runs
    module = result.module
    embeddings = module.model.get_input_embeddings().weight
    projected = projected_text(module.tokenizer, project(module.prompt.weight, embeddings, cfg.sweep.metric))
    outcome = RunResult(
        target_index=target_index,
        target_text=target,
        gamma=gamma,
        seed=seed,
        accuracy=result.metrics["val/accuracy"],
        f1=projection_f1(projected, target),
        distance=mean_distance(module.prompt.weight, module.target_embeddings),
        projected_text=projected,
        run_id=result.run_id,
    )
    if result.run_id is not None:
        _log_run(cfg, outcome)
    write_text(run_dir / RUN_RESULT, json.dumps(asdict(outcome), indent=2) + "\n")
    return outcome


def _log_run(cfg: WaywardnessConfig, outcome: RunResult) -> None:
    import mlflow

    client = mlflow.MlflowClient(cfg.tracking.uri)
    for key in ("accuracy", "f1", "distance"):
        client.log_metric(outcome.run_id, f"waywardness/{key}", getattr(outcome, key))
    client.set_tag(outcome.run_id, "waywardness.projected_text", outcome.projected_text[:4000])
    client.set_tag(outcome.run_id, "waywardness.target_text", outcome.target_text[:4000])
    client.log_text(outcome.run_id, outcome.projected_text, "projected_text.txt")


def select_gammas(results: list[RunResult], threshold: float) -> dict[int, dict | None]:
    """The paper's rule, per target text: the γ with the best mean accuracy among those whose mean F1 exceeds
    `threshold` (None when no γ does)."""
    selected: dict[int, dict | None] = {}
    for row in summarize(results):
        best = selected.get(row["target_index"])
        if row["f1"] > threshold and (best is None or row["accuracy"] > best["accuracy"]):
            selected[row["target_index"]] = row
        else:
            selected.setdefault(row["target_index"], None)
    return selected


def summarize(results: list[RunResult]) -> list[dict]:
    """Mean accuracy, F1 and distance over seeds, per (target text, γ), in sweep order."""
    groups: dict[tuple[int, float], list[RunResult]] = {}
    for r in results:
        groups.setdefault((r.target_index, r.gamma), []).append(r)
    rows = []
    for (target_index, gamma), runs in groups.items():
        rows.append(
            {
                "target_index": target_index,
                "target_text": runs[0].target_text,
                "gamma": gamma,
                "seeds": len(runs),
                "accuracy": sum(r.accuracy for r in runs) / len(runs),
                "f1": sum(r.f1 for r in runs) / len(runs),
                "distance": sum(r.distance for r in runs) / len(runs),
                "projected_text": runs[0].projected_text,
            }
        )
    return rows


def format_table(results: list[RunResult], threshold: float) -> str:
    """Markdown: one line per (target, γ), then the selected γ per target."""
    lines = [
        "| target | γ | accuracy | F1 | distance | projected text (first seed) |",
        "|---|---|---|---|---|---|",
    ]
    for row in summarize(results):
        projected = row["projected_text"].replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {row['target_index']} | {row['gamma']:g} | {row['accuracy']:.3f} | {row['f1']:.3f} "
            f"| {row['distance']:.4f} | {projected} |"
        )
    lines.append("")
    lines.append(f"Selected γ (best accuracy with F1 > {threshold}):")
    for index, row in select_gammas(results, threshold).items():
        target = results[[r.target_index for r in results].index(index)].target_text
        choice = f"γ={row['gamma']:g} (accuracy {row['accuracy']:.3f}, F1 {row['f1']:.3f})" if row else "none"
        lines.append(f"- target {index} ({target!r}): {choice}")
    return "\n".join(lines) + "\n"


SWEEP_OUTPUTS = (
    "summary.md",
    "summary.json",
    "accuracy_vs_f1.png",
    "base_lm",
    "runs",
    SWEEP_STATE,
)  # in out_dir


def sweep(cfg: WaywardnessConfig, resume: bool = False) -> tuple[list[RunResult], str | None]:
    """Every target text × γ × seed, under one progress bar; writes summary.md, summary.json and
    accuracy_vs_f1.png to sweep.out_dir and logs them to the sweep's MLflow run, the parent of every fit's run.
    With `resume`, continues the sweep that sweep.out_dir holds (see the module docstring). Returns the results and
    the sweep run's id."""
    from tulu_lightning.plots import accuracy_vs_f1
    from tulu_lightning.tracking import mlflow_run, save_figure

    out = Path(cfg.sweep.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = earlier_sweep(cfg) if resume else None
    now = fingerprint(cfg)
    if cfg.sweep.pretrain.steps:
        cfg = copy.deepcopy(cfg)
        base = out / "base_lm"  # written whole or not at all (save_hf), so an earlier one is complete
        reuse = state is not None and (base / "config.json").is_file()
        cfg.model.name_or_path = str(base if reuse else pretrain_task_lm(cfg, base))
    grid = [
        (target_index, gamma, seed)
        for target_index in range(len(cfg.sweep.target_texts))
        for gamma in cfg.sweep.gammas
        for seed in cfg.sweep.seeds
    ]
    # the sweep is one MLflow parent run (its table, plot and selected γ) with each fit of the grid nested under it
    with mlflow_run(
        cfg.tracking,
        run_name="waywardness:summary",
        tags={"objective": "waywardness"},
        run_id=(state or {}).get("run_id"),
    ) as mlflow:
        run_id = mlflow.active_run().info.run_id if mlflow is not None else None
        write_text(out / SWEEP_STATE, json.dumps({"config": now, "run_id": run_id}, indent=2) + "\n")
        results = run_grid(cfg, grid, parent_run_id=run_id, resume=resume)
        table = format_table(results, cfg.sweep.f1_threshold)
        write_text(out / "summary.md", table)
        selected = select_gammas(results, cfg.sweep.f1_threshold)
        summary = {"runs": [asdict(r) for r in results], "selected": selected}
        write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
        figure = accuracy_vs_f1(results, cfg.sweep.f1_threshold)
        client = mlflow.MlflowClient() if mlflow is not None else None
        save_figure(figure, out / "accuracy_vs_f1.png", client, run_id)
        if mlflow is not None:
            for name in ("summary.md", "summary.json"):
                mlflow.log_artifact(str(out / name))
            for index, row in selected.items():
                if row is not None:
                    mlflow.log_metric(f"selected_gamma/target{index}", row["gamma"])
    return results, run_id


def earlier_sweep(cfg: WaywardnessConfig) -> dict | None:
    """The state of the sweep sweep.out_dir holds (None: none started there), checked against `cfg`: a changed
    setting is an error naming it; an MLflow run the tracking store does not hold is forgotten."""
    path = Path(cfg.sweep.out_dir) / SWEEP_STATE
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    change = first_change(state["config"], fingerprint(cfg))
    if change is not None:
        key, before, now = change
        raise ConfigError(
            f"{key}: the sweep in {cfg.sweep.out_dir} was started with {before!r}, the config now says {now!r}; to "
            "start it again pass --overwrite, or choose a new sweep.out_dir"
        )
    if state.get("run_id") and not _run_exists(cfg, state["run_id"]):
        state["run_id"] = None
    return state


def _run_exists(cfg: WaywardnessConfig, run_id: str) -> bool:
    if not cfg.tracking.enabled:
        return False
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        MlflowClient(tracking_uri=cfg.tracking.uri).get_run(run_id)
    except MlflowException:
        return False
    return True


def run_grid(
    cfg: WaywardnessConfig,
    grid: list[tuple[int, float, int]],
    parent_run_id: str | None,
    resume: bool = False,
) -> list[RunResult]:
    """Every (target, γ, seed) of `grid`, in order, under one progress bar; each fit's MLflow run nested under
    `parent_run_id`."""
    from tqdm import tqdm

    cfg = copy.deepcopy(cfg)
    cfg.tracking.parent_run_id = parent_run_id
    results = []
    bar = tqdm(grid, desc="waywardness sweep", unit="run", file=sys.stderr, dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} runs [{elapsed}<{remaining}{postfix}]")  # fmt: skip
    with _quiet_lightning():
        for target_index, gamma, seed in bar:
            bar.set_postfix_str(f"now: target {target_index}, γ={gamma:g}, seed {seed}")
            results.append(run_one(cfg, target_index, gamma, seed, resume))
            last = results[-1]
            bar.set_postfix_str(f"last: γ={gamma:g} accuracy {last.accuracy:.3f} F1 {last.f1:.3f}")
    bar.close()
    return results


@contextmanager
def _quiet_lightning():
    """Lightning's per-fit lines (`GPU available`, `max_steps reached`) and transformers' `Loading weights` bar
    would break the sweep's bar apart."""
    from transformers.utils import logging as transformers_logging

    logger = logging.getLogger("lightning.pytorch")
    level, bars = logger.level, transformers_logging.is_progress_bar_enabled()
    logger.setLevel(logging.WARNING)
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        logger.setLevel(level)
        if bars:
            transformers_logging.enable_progress_bar()
