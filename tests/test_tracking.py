"""MLflow tracking that never hangs and never races: an unreachable server is one line within seconds; two
first runs at once on a new SQLite store both succeed; a run whose process was killed is not left RUNNING."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import REPO
from tulu_lightning import cli
from tulu_lightning.config import TrackingConfig
from tulu_lightning.tracking import SERVER_TIMEOUT_S, mark_killed_runs, mlflow_run

DECONTAM = REPO / "tests" / "data" / "decontam"


def test_an_unreachable_server_is_one_line_within_seconds(tmp_path, capsys):
    argv = ["decontaminate", "--benchmarks", f"gsm8k={DECONTAM / 'gsm8k_sample.jsonl'}:question",
            "--train", str(DECONTAM / "train_sample.jsonl"), "--out", str(tmp_path / "out"), "--no-progress",
            "tracking.uri=http://127.0.0.1:9"]  # fmt: skip
    started = time.monotonic()
    assert cli.main(argv) == 2
    assert time.monotonic() - started < 2 * SERVER_TIMEOUT_S <= 10
    assert capsys.readouterr().err == (
        "error: tracking.uri: no MLflow server answers at http://127.0.0.1:9 ([Errno 111] Connection refused); "
        "start one (mlflow server --backend-store-uri sqlite:///mlflow.db) or use tracking.uri=sqlite:///mlflow.db\n"
    )


def test_a_file_that_is_not_a_database_is_one_line(tmp_path, capsys):
    (tmp_path / "mlflow.db").write_text("not a database")
    argv = ["decontaminate", "--benchmarks", f"gsm8k={DECONTAM / 'gsm8k_sample.jsonl'}:question",
            "--train", str(DECONTAM / "train_sample.jsonl"), "--out", str(tmp_path / "out"), "--no-progress",
            f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: tracking.uri sqlite:///{tmp_path / 'mlflow.db'}: ") and err.count("\n") == 1
    )


def _first_run(uri: str, name: str, start) -> None:
    start.wait()  # both processes open the new store at the same moment
    with mlflow_run(TrackingConfig(uri=uri, experiment="race"), run_name=name) as mlflow:
        mlflow.log_metric("x", 1.0)


def test_two_first_runs_at_once_on_a_new_sqlite_store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    context = multiprocessing.get_context("fork")  # the children only touch MLflow, never torch
    start = context.Event()
    runs = [context.Process(target=_first_run, args=(uri, f"run{i}", start)) for i in range(2)]
    for run in runs:
        run.start()
    start.set()
    for run in runs:
        run.join(timeout=300)
    assert [run.exitcode for run in runs] == [0, 0]
    client = MlflowClient(uri)
    finished = client.search_runs([client.get_experiment_by_name("race").experiment_id])
    assert sorted(r.info.run_name for r in finished) == ["run0", "run1"]
    assert {r.info.status for r in finished} == {"FINISHED"}


def test_runs_of_a_killed_process_are_marked_killed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking = TrackingConfig(uri=uri)
    client = MlflowClient(uri)
    experiment = client.create_experiment(tracking.experiment)
    out = tmp_path / "run"
    tags = {"output_dir": str(out.resolve())}
    killed = client.create_run(experiment, tags=tags).info.run_id  # left RUNNING by a SIGKILL
    continued = client.create_run(experiment, tags=tags).info.run_id
    elsewhere = client.create_run(experiment, tags={"output_dir": str(tmp_path / "other")}).info.run_id
    assert mark_killed_runs(tracking, Path(out), keep=continued) == [killed]
    status = {run_id: client.get_run(run_id).info.status for run_id in (killed, continued, elsewhere)}
    assert status == {killed: "KILLED", continued: "RUNNING", elsewhere: "RUNNING"}


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch):
    # the fail-fast settings are only ever set for the store check, and removed after it
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    yield
    import os

    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
