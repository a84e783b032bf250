"""`python -m tulu_lightning decontaminate` end to end: outputs, MLflow run, user errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tulu_lightning import cli
from tulu_lightning.config import load_yaml, merge_config
from tulu_lightning.decontam import DecontamConfig

DATA = Path(__file__).parent / "data" / "decontam"
REPO = Path(__file__).parents[1]


@pytest.fixture
def only_decontaminate(monkeypatch):
    # The parser imports every command's options; keep this test to the command it exercises.
    monkeypatch.setattr(cli, "COMMANDS", {"decontaminate": cli.COMMANDS["decontaminate"]})


def test_end_to_end(tmp_path, only_decontaminate, capsys):
    train = tmp_path / "train_sample.jsonl"
    shutil.copy(DATA / "train_sample.jsonl", train)
    before = train.read_bytes()
    out = tmp_path / "out"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    argv = [
        "decontaminate", "--benchmarks", f"gsm8k={DATA / 'gsm8k_sample.jsonl'}:question",
        "--train", str(train), "--out", str(out), "--no-progress", f"tracking.uri={uri}",
    ]  # fmt: skip
    assert cli.main(argv) == 0
    assert train.read_bytes() == before  # the input is never modified

    report = json.loads((out / "report.json").read_text())
    [result] = report["results"]
    assert result == {
        "dataset": "train_sample", "benchmark": "gsm8k", "instances": 4, "overlapping_instances": 2,
        "overlap_pct": 50.0, "contaminated": True,
    }  # fmt: skip
    [dataset] = report["datasets"]
    assert (dataset["docs"], dataset["contaminated_rows"], dataset["malformed_lines"]) == (4, 2, 1)
    rows = [json.loads(line) for line in (out / "contaminated.jsonl").read_text().splitlines()]
    assert [(r["line"], r["id"], [m["instance_id"] for m in r["matches"]]) for r in rows] == [
        (2, "b", ["gsm8k-0"]),
        (5, "d", ["gsm8k-2"]),
    ]
    kept = [
        json.loads(line)["id"] for line in (out / "clean" / "train_sample.jsonl").read_text().splitlines()
    ]
    assert kept == ["a", "c"]
    table = (out / "report.txt").read_text()
    assert "CONTAMINATED" in table and "50.00%" in table
    captured = capsys.readouterr()
    assert "train_sample.jsonl:3" in captured.err
    paragraph = " ".join(captured.out[captured.out.index("decontamination: ") :].split())
    assert paragraph.startswith(
        "decontamination: 1 of 1 dataset × benchmark pairs contaminated, 2 training rows"
    )
    assert (
        f"clean copies {out / 'clean'}" in paragraph and f"mlflow ui --backend-store-uri {uri}" in paragraph
    )

    import mlflow

    mlflow.set_tracking_uri(uri)
    [run] = mlflow.search_runs(experiment_names=["decontamination"], output_format="list")
    assert run.data.params["n"] == "8"
    assert run.data.metrics["train_sample.gsm8k.overlap_pct"] == 50.0
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"report.json", "report.txt", "contaminated.jsonl", "config.yaml"} <= artifacts

    # The saved index is reused; a different n is refused.
    argv_index = ["decontaminate", "--index", str(out / "index.bin"), "--train", str(train), "--out",
                  str(tmp_path / "again"), "--no-progress", "tracking.enabled=false"]  # fmt: skip
    assert cli.main(argv_index) == 0
    assert json.loads((tmp_path / "again" / "report.json").read_text())["results"] == report["results"]
    assert cli.main([*argv_index, "-n", "5", "--overwrite"]) == 2
    assert "index built with n=8, but n=5" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--benchmarks", "missing.jsonl:question"], "file not found: missing.jsonl"),
        (["--benchmarks", str(DATA / "gsm8k_sample.jsonl")], "no fields"),
        (["--benchmarks", f"{DATA / 'gsm8k_sample.jsonl'}:problem"], 'field "problem" not found'),
        (
            ["--benchmarks", f"{DATA / 'gsm8k_sample.jsonl'}:question", "--fail-on-malformed"],
            ":3: malformed JSON",
        ),
        (
            ["instance_threshold=2", "--benchmarks", f"{DATA / 'gsm8k_sample.jsonl'}:question"],
            "instance_threshold",
        ),
    ],
)
def test_user_errors_are_one_line(tmp_path, only_decontaminate, capsys, extra, message):
    argv = ["decontaminate", "--train", str(DATA / "train_sample.jsonl"), "--out", str(tmp_path),
            "--no-progress", "tracking.enabled=false", *extra]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_tulu3_config_is_valid():
    cfg = merge_config(DecontamConfig, load_yaml(REPO / "configs/decontam/tulu3.yaml"), source="tulu3.yaml")
    names = {spec.name: spec.fields for spec in cfg.benchmarks}
    assert names["gsm8k"] == ["question"] and names["math"] == ["problem"] and names["ifeval"] == ["prompt"]
    assert names["mmlu"] == ["question"] and names["humaneval"] == ["prompt"]
    assert cfg.n == 8 and cfg.instance_threshold == 0.5 and cfg.dataset_threshold == 0.02
    assert cfg.train_fields == ["messages[role=user].content"]
