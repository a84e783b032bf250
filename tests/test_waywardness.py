"""Waywardness: projection and F1 by hand; the sweep recovers the target text with γ large, drifts with γ = 0."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import write_config
from test_prompt_tuning import tiny_prompt_config

from tulu_lightning.models import train_tiny_tokenizer
from tulu_lightning.plots import accuracy_vs_f1
from tulu_lightning.projection import nearest_tokens, normalize_text, projected_text, projection_f1
from tulu_lightning.waywardness import RunResult, select_gammas


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


def test_trade_off_plot_marks_the_band_and_the_threshold_and_shows_every_point():
    results = [
        _result(0, 0.0, 0.90, 0.10),
        _result(1, 0.0, 0.90, 0.10),  # the same point as the first: both must stay visible
        _result(0, 1.0, 0.89, 0.99),
        _result(0, 10.0, 0.80, 1.00),
    ]
    axes = accuracy_vs_f1(results, 0.98).axes[0]
    assert axes.get_title() and "F1" in axes.get_xlabel() and "accuracy" in axes.get_ylabel()
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == ["within 2% of γ = 0 accuracy (0.900)", "F1 = 0.98", "γ = 0", "γ = 1", "γ = 10"]
    band = axes.patches[0].get_extents().transformed(axes.transData.inverted())
    assert (round(band.y0, 6), round(band.y1, 6)) == (0.88, 0.9)
    points = [tuple(p) for collection in axes.collections for p in collection.get_offsets()]
    assert len(points) == len(results) == len(set(points))  # the coinciding pair is spread apart
    assert all(collection.get_facecolor().size == 0 for collection in axes.collections)  # hollow markers
    assert [text.get_text() for text in axes.texts] == ["×2"]


def test_projected_text_marks_bytes_of_a_split_character_instead_of_replacing_them():
    tokenizer = train_tiny_tokenizer(["a ✓ b é"], vocab_size=300)  # byte-level: every byte is a token
    byte_token = {b: tokenizer.convert_tokens_to_ids(ch) for ch, b in _byte_alphabet().items()}

    def ids(data: bytes) -> list[int]:
        return [byte_token[b] for b in data]

    check = "✓".encode()  # 3 bytes
    assert "\ufffd" in tokenizer.decode(ids(b"a" + check[:2]))  # what `decode` does with a split character
    assert projected_text(tokenizer, ids(b"a" + check[:2])) == "a\\xe2\\x9c"
    assert projected_text(tokenizer, ids(b"a " + check + " é".encode())) == "a ✓ é"  # whole, across tokens
    assert projected_text(tokenizer, [tokenizer.bos_token_id, *ids(b"ok")]) == "<|bos|>ok"


def _byte_alphabet() -> dict[str, int]:
    from tulu_lightning.projection import _unicode_to_byte

    return _unicode_to_byte()


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
    assert (tmp_path / "sweep" / "accuracy_vs_f1.png").read_bytes().startswith(b"\x89PNG")

    import mlflow

    client = mlflow.MlflowClient(cfg["tracking"]["uri"])
    experiment = client.get_experiment_by_name("tulu_lightning")
    runs_logged = client.search_runs([experiment.experiment_id])
    names = {run.info.run_name: run for run in runs_logged}
    assert "waywardness:summary" in names
    logged = {a.path for a in client.list_artifacts(names["waywardness:summary"].info.run_id)}
    assert {"accuracy_vs_f1.png", "summary.md", "summary.json"} <= logged
    large = names["waywardness:target0_gamma100_seed0"]
    assert large.data.metrics["waywardness/f1"] == 1.0
    sweep_run = names["waywardness:summary"].info.run_id  # every fit of the grid nested under the sweep's run
    assert {
        names[f"waywardness:target0_gamma{g}_seed0"].data.tags["mlflow.parentRunId"] for g in (0, 100)
    } == {sweep_run}
    assert large.data.tags["waywardness.projected_text"] == "a story about a cat"


def test_an_interrupted_sweep_resumes_with_its_finished_fits_kept(tmp_path, monkeypatch, capsys):
    """Killed during its second fit (that fit's result.json and the summary never written), a sweep continues with
    `--resume`: the first fit is kept, not run again; the second runs again; the summary is the uninterrupted
    sweep's, under the same MLflow run. Without --resume the directory is refused, and so is a changed setting."""
    from mlflow import MlflowClient

    from tulu_lightning import train
    from tulu_lightning.cli import main

    cfg = tiny_prompt_config(tmp_path)
    cfg["trainer"].update({"max_steps": 2, "gradient_accumulation_steps": 1})
    out = tmp_path / "sweep"
    cfg["sweep"] = {
        "target_texts": ["a cat"],
        "gammas": [0.0, 1.0],
        "out_dir": str(out),
        "pretrain": {"steps": 2},
    }
    config = str(write_config(tmp_path, cfg))
    assert main(["waywardness", "--config", config]) == 0
    uninterrupted = json.loads((out / "summary.json").read_text())
    for name in ("runs/target0_gamma1_seed0/result.json", "summary.json", "summary.md"):
        (out / name).unlink()
    capsys.readouterr()

    assert main(["waywardness", "--config", config]) == 2
    assert "holds a sweep (sweep.json); pass --resume to continue it" in capsys.readouterr().err
    assert main(["waywardness", "--config", config, "--resume", "sweep.gammas=[0,2]"]) == 2
    assert "sweep.gammas: the sweep in" in capsys.readouterr().err
    fits, real_fit = [], train.fit
    monkeypatch.setattr(
        train,
        "fit",
        lambda run_cfg, **kw: fits.append(run_cfg.prompt_tuning.gamma) or real_fit(run_cfg, **kw),
    )
    assert main(["waywardness", "--config", config, "--resume"]) == 0
    assert fits == [1.0]  # the finished fit (γ = 0) was kept
    resumed = json.loads((out / "summary.json").read_text())

    def without_run_ids(summary):
        return [{k: v for k, v in run.items() if k != "run_id"} for run in summary["runs"]]

    assert without_run_ids(resumed) == without_run_ids(uninterrupted)  # the same seeds, the same results
    assert resumed["selected"] == uninterrupted["selected"]
    client = MlflowClient(cfg["tracking"]["uri"])
    experiment = client.get_experiment_by_name("tulu_lightning")
    summaries = client.search_runs([experiment.experiment_id], "attributes.run_name = 'waywardness:summary'")
    assert len(summaries) == 1  # continued, not a second one
    parents = {client.get_run(run["run_id"]).data.tags["mlflow.parentRunId"] for run in resumed["runs"]}
    assert parents == {summaries[0].info.run_id}
