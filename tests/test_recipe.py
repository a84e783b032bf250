"""`recipe`: a tiny SFT → DPO recipe (2 optimizer steps a stage) run for real, then read back: resume stage by
stage (a finished stage is not rerun, a changed one is refused, an interrupted one continues its MLflow run), and
what MLflow holds (one experiment in the model-training view, a parent run with a nested run per stage, readable
names, dataset inputs, system metrics, sample tables, counters as tags, logged models), from its SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from tests.conftest import REPO, tiny_preference_config, tiny_sft_config, write_config
from tests.test_distributed import run_python
from tulu_lightning import tracking
from tulu_lightning.cli import main
from tulu_lightning.config import ConfigError
from tulu_lightning.errors import CLIError
from tulu_lightning.recipe import STAGE_DONE, load_recipe, run_recipe, wait_for_lead


def write_recipe(tmp: Path, **extra) -> Path:
    sft = tiny_sft_config(
        tmp, trainer={"max_steps": 2}, eval={"enabled": True, "max_prompts": 4, "max_new_tokens": 8}
    )
    dpo = tiny_preference_config(tmp, "dpo", trainer={"max_steps": 2}, dpo={"reference": "live"})
    del dpo["model"]  # from the SFT stage's export
    recipe = {
        "name": "tiny_recipe",
        "output_dir": str(tmp / "recipe"),
        "stages": [
            {"name": "sft", "fit": str(write_config(tmp, sft, "sft.yaml")), "model_from": None},
            {"name": "dpo", "fit": str(write_config(tmp, dpo, "dpo.yaml"))},
        ],
        "tracking": {"uri": f"sqlite:///{tmp / 'mlflow.db'}", "log_model": True},
        **extra,
    }
    return write_config(tmp, recipe, "recipe.yaml")


@pytest.fixture(scope="module")
def finished_recipe(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("recipe")
    path = write_recipe(tmp)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tracking, "SYSTEM_METRICS_INTERVAL_S", 0.5)
        cfg, stages = load_recipe(str(path))
        results = run_recipe(cfg, stages, str(path))
    return tmp, path, cfg, results


def client_of(cfg) -> MlflowClient:
    return MlflowClient(tracking_uri=cfg.tracking.uri)


def recipe_runs(cfg):
    client = client_of(cfg)
    experiment = client.get_experiment_by_name(cfg.tracking.experiment)
    return client.search_runs([experiment.experiment_id])


def test_a_finished_stage_is_not_rerun(finished_recipe, capsys):
    _, path, cfg, results = finished_recipe
    markers = {r.name: Path(cfg.output_dir) / r.name / STAGE_DONE for r in results}
    before = {name: marker.stat().st_mtime_ns for name, marker in markers.items()}
    runs_before = {r.info.run_id for r in recipe_runs(cfg)}
    assert main(["recipe", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "stage sft: finished earlier" in out and "stage dpo: finished earlier" in out
    assert {name: marker.stat().st_mtime_ns for name, marker in markers.items()} == before
    assert {r.info.run_id for r in recipe_runs(cfg)} == runs_before  # no new run, the parent reused
    assert "dpo" in out and "val/accuracy" in out  # the closing summary's figures


def test_mlflow_holds_the_recipe_as_users_expect(finished_recipe):
    _, _, cfg, results = finished_recipe
    client = client_of(cfg)
    experiment = client.get_experiment_by_name("tiny_recipe")  # one experiment per recipe, named after it
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # the model-training view
    runs = {r.info.run_id: r for r in recipe_runs(cfg)}
    parents = [r for r in runs.values() if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.run_name.startswith("recipe · tiny_recipe · ")
    parent = parents[0]
    assert parent.info.status == "FINISHED" and "dpo/val/preference_accuracy" in parent.data.metrics
    assert "training_curves.png" in {
        a.path for a in client.list_artifacts(parent.info.run_id)
    }  # every stage's
    for result in results:
        run = runs[result.run_id]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.run_name.startswith(f"{result.name} · ")  # e.g. "sft · sft · 11-30 14:05"
        # datasets as inputs: source, digest, rows
        inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
        train = inputs[f"{'sft' if result.name == 'sft' else 'preference'}_train.jsonl"]
        assert json.loads(train.dataset.profile)["num_rows"] in (3000, 2000)
        assert (
            json.loads(train.dataset.source)["uri"].endswith("_train.jsonl")
            and len(train.dataset.digest) == 16
        )
        assert {t.value for t in train.tags} == {"training"}
        # system metrics, counters as tags (not metrics), the model under the run's models
        assert any(k.startswith("system/cpu_utilization") for k in run.data.metrics), sorted(run.data.metrics)
        assert not any(k.startswith("data/") for k in run.data.metrics)
        models = client.search_logged_models(
            [experiment.experiment_id], filter_string=f"source_run_id='{result.run_id}'"
        )
        assert len(models) == 1 and models[0].tags["model_dir"] == str(Path(result.model).resolve())
        assert [o.model_id for o in run.outputs.model_outputs] == [models[0].model_id]
        files = {Path(a.path).name for a in client.list_logged_model_artifacts(models[0].model_id)}
        assert {"config.json", "model.safetensors", "tokenizer.json"} <= files
    sft = runs[results[0].run_id]
    assert int(sft.data.tags["data.train_rows"]) > 0 and sft.data.tags["data.over_long_examples"] == "0"
    samples = [a.path for a in client.list_artifacts(sft.info.run_id, "samples")]
    assert samples == ["samples/step_000002.json"]
    table = json.loads(Path(client.download_artifacts(sft.info.run_id, samples[0])).read_text())
    assert table["columns"] == ["prompt", "generation", "ground_truth", "verifier", "score"]
    assert len(table["data"]) == 4 and all(row[3] == "gsm8k" for row in table["data"])


def test_a_changed_stage_config_after_it_finished_is_refused(finished_recipe):
    _, path, cfg, _ = finished_recipe
    stages = load_recipe(str(path), ["sft:optim.lr=0.5"])[1]
    with pytest.raises(ConfigError, match=r"stage sft: finished with optim.lr=0.001 .* now says 0.5"):
        run_recipe(cfg, stages, str(path))


def test_an_interrupted_stage_resumes_in_its_own_run(finished_recipe):
    _, path, cfg, results = finished_recipe
    dpo = next(r for r in results if r.name == "dpo")
    marker = Path(cfg.output_dir) / "dpo" / STAGE_DONE
    marker.unlink()  # as if killed after its last checkpoint, before its marker
    cfg2, stages = load_recipe(str(path))
    again = run_recipe(cfg2, stages, str(path))
    assert again[0].skipped and not again[1].skipped
    assert again[1].run_id == dpo.run_id  # continued from checkpoints/last.ckpt, in the same MLflow run
    assert json.loads(marker.read_text())["result"]["run_id"] == dpo.run_id


def test_a_finished_stage_after_its_input_stage_ran_again_is_refused(finished_recipe):
    _, path, cfg, _ = finished_recipe
    (Path(cfg.output_dir) / "sft" / STAGE_DONE).unlink()  # sft runs again (resumed from its last checkpoint)
    stages = load_recipe(str(path))[1]
    with pytest.raises(ConfigError, match=r"stage dpo: finished with recipe.sft.finished="):
        run_recipe(cfg, stages, str(path))


def test_bad_recipes_fail_at_start_naming_the_key(tmp_path):
    path = write_recipe(tmp_path)
    recipe = yaml.safe_load(path.read_text())
    recipe["stages"][1]["model_from"] = "rm"
    write_config(tmp_path, recipe, "bad.yaml")
    with pytest.raises(ConfigError, match=r"stages\[1\]: model.name_or_path from 'rm': no fit stage"):
        load_recipe(str(tmp_path / "bad.yaml"))
    with pytest.raises(ConfigError, match="no stage named 'ppo'"):
        load_recipe(str(path), ["ppo:optim.lr=1"])
    with pytest.raises(ConfigError, match="unknown key"):
        load_recipe(str(path), ["dpo:optim.nope=1"])
    recipe["stages"][1] = {"name": "dpo", "fit": str(tmp_path / "missing.yaml")}
    write_config(tmp_path, recipe, "bad.yaml")
    with pytest.raises(ConfigError, match=r"stages\[1\]\.fit: file not found"):
        load_recipe(str(tmp_path / "bad.yaml"))


def test_log_model_false_points_at_the_export_without_copying(tmp_path):
    from tulu_lightning.config import TrackingConfig

    cfg = TrackingConfig(uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment="e")
    tracking.prepare_store(cfg)
    client = MlflowClient(tracking_uri=cfg.uri)
    run = client.create_run(client.get_experiment_by_name("e").experiment_id)
    export = tmp_path / "hf"
    export.mkdir()
    (export / "model.safetensors").write_bytes(b"0" * 1024)
    model_id = tracking.log_exported_model(client, run.info.run_id, export, "sft-8b", copy_files=False)
    model = client.get_logged_model(model_id)
    assert model.tags["model_dir"] == str(export.resolve()) and model.source_run_id == run.info.run_id
    assert client.list_logged_model_artifacts(model_id) == []


@pytest.mark.distributed
def test_a_recipe_on_two_processes_runs_every_stage(tmp_path):
    """SFT → eval → DPO with `trainer.devices=2` (Lightning starts the second process in the first fit; both run
    the recipe from there). Before, the second process reached the DPO stage before the first had written the SFT
    export, and failed on it ("model directory not found"), taking the first down with it."""
    two = {"max_steps": 2, "devices": 2, "micro_batch_size": 2}
    sft = tiny_sft_config(tmp_path, trainer=two, eval={"enabled": False}, tracking={"log_model": False})
    dpo = tiny_preference_config(tmp_path, "dpo", trainer=two, dpo={"reference": "live"})
    del dpo["model"]
    for cfg in (sft, dpo):
        cfg["data"]["val_files"] = []
    evaluation = [f"local_data={REPO / 'tests/data/eval'}", "suites=[tulu3_dev]", "tasks=[gsm8k]", "limit=2"]
    recipe = {
        "name": "two_processes",
        "output_dir": str(tmp_path / "recipe"),
        "stages": [
            {"name": "sft", "fit": str(write_config(tmp_path, sft, "sft.yaml")), "model_from": None},
            {"name": "eval", "eval": str(REPO / "configs/eval/demo.yaml"), "overrides": evaluation},
            {"name": "dpo", "fit": str(write_config(tmp_path, dpo, "dpo.yaml")), "model_from": "sft"},
        ],
        "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
    }
    run_python(
        "-m", "tulu_lightning", "recipe", "--config", str(write_config(tmp_path, recipe, "recipe.yaml"))
    )
    for stage in ("sft", "eval", "dpo"):
        assert (tmp_path / "recipe" / stage / STAGE_DONE).is_file(), stage
    assert (tmp_path / "recipe" / "dpo" / "hf" / "model.safetensors").is_file()


def test_a_later_process_waits_for_the_first_to_finish_a_stage(tmp_path, monkeypatch):
    import threading

    stage = load_recipe(str(write_recipe(tmp_path)))[1][0]
    stage.directory.mkdir(parents=True)
    timer = threading.Timer(0.3, lambda: stage.done_file.write_text("{}"))
    timer.start()
    wait_for_lead(stage, poll_s=0.05)  # returns once the first process has written the marker
    timer.join()
    stage.done_file.unlink()
    parents = iter([100, 100, 1])  # the parent (the first process) is gone: reparented to init
    monkeypatch.setattr("os.getppid", lambda: next(parents))
    with pytest.raises(CLIError, match="stage sft: the first process stopped before finishing it"):
        wait_for_lead(stage, poll_s=0.01)
