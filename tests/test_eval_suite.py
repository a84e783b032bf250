"""`eval`: per-task and per-suite accuracy of an exported model, consistent with the accuracy seen in training."""

from __future__ import annotations

import json

import pytest
import yaml
from mlflow import MlflowClient

from tests.conftest import DEMO_DATA
from tulu_lightning.cli import main


def write_suite(tmp_path, model_dir, tasks) -> str:
    cfg = {
        "model": str(model_dir),
        "max_new_tokens": 40,
        "batch_size": 64,
        "output_dir": str(tmp_path / "eval"),
        "tracking": {"uri": f"sqlite:///{tmp_path / 'eval.db'}"},
        "tasks": tasks,
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


@pytest.mark.slow
def test_eval_matches_training_accuracy_and_logs_suites(tmp_path, demo_sft):
    tasks = [
        {"name": "arith", "file": str(DEMO_DATA / "sft_val.jsonl"), "suite": "dev", "max_prompts": 200},
        {"name": "arith_rl", "file": str(DEMO_DATA / "rlvr_val.jsonl"), "suite": "unseen", "max_prompts": 50},
    ]
    assert main(["eval", "--config", write_suite(tmp_path, demo_sft.hf_dir, tasks)]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["dev/arith"] == pytest.approx(demo_sft.metrics["val/accuracy"], abs=0.02)
    assert metrics["dev/mean"] == metrics["dev/arith"]
    assert 0.0 <= metrics["unseen/mean"] <= 1.0
    verdicts = [json.loads(line) for line in (tmp_path / "eval" / "arith.jsonl").open()]
    assert len(verdicts) == 200 and sum(v["score"] for v in verdicts) / 200 == pytest.approx(
        metrics["dev/arith"]
    )
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'eval.db'}")
    run = client.search_runs([client.get_experiment_by_name("tulu_lightning").experiment_id])[0]
    assert run.data.metrics["dev/arith"] == pytest.approx(metrics["dev/arith"])


def test_eval_config_errors(tmp_path, capsys):
    bad_suite = [{"name": "x", "file": str(DEMO_DATA / "sft_val.jsonl"), "suite": "holdout"}]
    assert main(["eval", "--config", write_suite(tmp_path, tmp_path, bad_suite)]) == 2
    assert "tasks[0].suite" in capsys.readouterr().err
    missing = [{"name": "x", "file": "nope.jsonl"}]
    assert main(["eval", "--config", write_suite(tmp_path, tmp_path, missing)]) == 2
    assert "tasks[0].file: file not found: nope.jsonl" in capsys.readouterr().err
