"""Waywardness: projection and F1 by hand; the sweep recovers the target text with γ large, drifts with γ = 0."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import write_config
from test_prompt_tuning import tiny_prompt_config

from tulu_lightning.projection import nearest_tokens, normalize_text, projection_f1
from tulu_lightning.waywardness import RunResult, accuracy_f1_svg, select_gammas


def test_nearest_token_by_each_metric_by_hand():
    embeddings = torch.tensor([[1.0, 1.1], [8.0, 0.0], [3.0, 3.0]])
    prompt = torch.tensor([[1.0, 1.0]])
    # Euclidean: distances 0.1, 7.07, 2.83; cosine: 0.998, 0.707, 1.0; dot: 2.1, 8, 6
    assert nearest_tokens(prompt, embeddings, "euclidean").tolist() == [0]
    assert nearest_tokens(prompt, embeddings, "cosine").tolist() == [2]
    assert nearest_tokens(prompt, embeddings, "dot").tolist() == [1]


def test_squad_normalised_f1_by_hand():
    assert normalize_text("The Cat, sat!  on a mat.") == "cat sat on mat"
    # prediction {cat, sat} against {cat, sat, on, mat}: precision 1, recall 1/2, F1 2/3
    assert projection_f1("The cat sat.", "a cat sat on the mat") == pytest.approx(2 / 3)
    assert projection_f1("a story about a cat", "A story about a cat") == 1.0
    assert projection_f1("dog", "a story about a cat") == 0.0
    assert projection_f1("the", "a") == 1.0  # both empty once articles are removed


def _result(target: int, gamma: float, accuracy: float, f1: float) -> RunResult:
    return RunResult(target, f"t{target}", gamma, 0, accuracy, f1, 0.0, "", None)


def test_selection_rule_best_accuracy_among_faithful_gammas():
    results = [
        _result(0, 0.0, 0.90, 0.10),
        _result(0, 1.0, 0.85, 0.99),
        _result(0, 10.0, 0.80, 1.00),
        _result(1, 0.0, 0.90, 0.20),
    ]
    selected = select_gammas(results, 0.98)
    assert selected[0]["gamma"] == 1.0 and selected[1] is None
    svg = accuracy_f1_svg(results)
    assert (
        svg.startswith("<svg") and svg.count("<circle") == len(results) + 3
    )  # points + one legend dot per γ


@pytest.mark.slow
def test_sweep_recovers_target_with_large_gamma_and_drifts_without(tmp_path):
    from tulu_lightning.cli import main

    cfg = tiny_prompt_config(tmp_path, init="target")
    cfg["trainer"].update({"max_steps": 25, "gradient_accumulation_steps": 1, "micro_batch_size": 8})
    cfg["sweep"] = {
        "target_texts": ["a story about a cat"],
        "gammas": [0.0, 100.0],
        "out_dir": str(tmp_path / "sweep"),
        "pretrain": {"steps": 10},
    }
    assert main(["waywardness", "--config", str(write_config(tmp_path, cfg))]) == 0
    summary = json.loads((tmp_path / "sweep" / "summary.json").read_text())
    runs = {run["gamma"]: run for run in summary["runs"]}
    assert runs[100.0]["projected_text"] == "a story about a cat" and runs[100.0]["f1"] == 1.0
    assert runs[0.0]["f1"] < 1.0  # started on the target text, wandered off it
    assert runs[0.0]["distance"] > runs[100.0]["distance"]
    assert summary["selected"]["0"]["gamma"] == 100.0
    assert (tmp_path / "sweep" / "accuracy_vs_f1.svg").read_text().startswith("<svg")

    import mlflow

    client = mlflow.MlflowClient(cfg["tracking"]["uri"])
    experiment = client.get_experiment_by_name("tulu_lightning")
    runs_logged = client.search_runs([experiment.experiment_id])
    names = {run.info.run_name: run for run in runs_logged}
    assert "waywardness:summary" in names
    large = names["waywardness:target0_gamma100_seed0"]
    assert large.data.metrics["waywardness/f1"] == 1.0
    assert large.data.tags["waywardness.projected_text"] == "a story about a cat"
