"""End to end `fit` on a tiny model: MLflow contents, Hugging Face export, exact resume, CLI errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.conftest import tiny_sft_config, write_config
from tulu_lightning.cli import main
from tulu_lightning.train import fit, load_run_config


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fit")
    cfg = load_run_config(str(write_config(tmp, tiny_sft_config(tmp))))
    return tmp, cfg, fit(cfg)


def test_mlflow_run_holds_config_metrics_commit_and_model(finished_run):
    _, cfg, result = finished_run
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["optim.lr"] == "0.001"
    assert run.data.params["sft.reduction"] == "mean"
    for key in ("train/loss", "train/lr", "train/tokens_per_sec", "train/grad_norm", "val/loss"):
        assert key in run.data.metrics, key
    losses = client.get_metric_history(result.run_id, "train/loss")
    assert len(losses) == cfg.trainer.max_steps
    assert len(run.data.tags["mlflow.source.git.commit"]) >= 40
    assert run.data.tags["model_dir"] == str((Path(cfg.trainer.output_dir) / "hf").resolve())
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"config.yaml", "training_curves.png"} <= artifacts
    assert (Path(cfg.trainer.output_dir) / "training_curves.png").read_bytes().startswith(b"\x89PNG")
    # the export as the run's logged model (MLflow 3), its files copied (tracking.log_model)
    (model,) = client.search_logged_models(
        [run.info.experiment_id], filter_string=f"source_run_id='{result.run_id}'"
    )
    model_files = {Path(a.path).name for a in client.list_logged_model_artifacts(model.model_id)}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= model_files


def test_hf_export_round_trip(finished_run):
    _, _, result = finished_run
    model = AutoModelForCausalLM.from_pretrained(result.hf_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(result.hf_dir)
    assert tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False).startswith(
        "<|user|>"
    )
    ids = torch.tensor([tokenizer("Ava has 3 apples.")["input_ids"]])
    trained = result.module.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, trained(ids).logits)


def test_output_dir_of_a_finished_run_is_not_overwritten(finished_run):
    tmp, cfg, _ = finished_run
    code = main(["fit", "--config", str(write_config(tmp, tiny_sft_config(tmp), "again.yaml"))])
    assert code == 2
    assert (Path(cfg.trainer.output_dir) / "hf" / "model.safetensors").exists()


def test_resume_mid_epoch_gives_the_same_weights(tmp_path):
    """8 steps straight vs 8 steps saved at step 4, then resumed from that checkpoint."""
    common = {"tracking": {"enabled": False}, "data": {"val_files": []}}
    straight = tiny_sft_config(tmp_path / "a", trainer={"max_steps": 8, "micro_batch_size": 2}, **common)
    saved = tiny_sft_config(
        tmp_path / "b",
        trainer={"max_steps": 8, "micro_batch_size": 2, "checkpoint_every_n_steps": 4},
        **common,
    )
    run_a = fit(load_run_config(str(write_config(tmp_path, straight, "a.yaml"))))
    fit(load_run_config(str(write_config(tmp_path, saved, "b.yaml"))))
    checkpoint = tmp_path / "b" / "run" / "checkpoints" / "step4.ckpt"
    assert checkpoint.exists(), sorted(p.name for p in checkpoint.parent.iterdir())
    resumed = tiny_sft_config(
        tmp_path / "c",
        trainer={"max_steps": 8, "micro_batch_size": 2, "resume_from": str(checkpoint)},
        **common,
    )
    run_c = fit(load_run_config(str(write_config(tmp_path, resumed, "c.yaml"))))
    weights_a = load_file(run_a.hf_dir / "model.safetensors")
    weights_c = load_file(run_c.hf_dir / "model.safetensors")
    weights_b4 = torch.load(checkpoint, weights_only=False)["state_dict"]
    assert any(not torch.equal(weights_b4["model." + k], v) for k, v in weights_a.items()), (
        "steps 5-8 did nothing"
    )
    for name, value in weights_a.items():
        torch.testing.assert_close(weights_c[name], value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lrr=0.1", "unknown key 'optim.lrr'"),
        ("trainer.max_steps=many", "trainer.max_steps"),
        ("data.train_files=[missing.jsonl]", "data.train_files: file not found: missing.jsonl"),
        ("sft.reduction=median", "sft.reduction"),
        ("trainer.strategy=fsdp", "trainer.strategy"),
        ("optim.lr", "not of the form key=value"),
        ("model.name_or_path=outputs/missing/hf", "model.name_or_path: model directory not found"),
    ],
)
def test_config_errors_name_the_key(sft_config, capsys, override, message):
    assert main(["fit", "--config", str(sft_config()), override, "--print-config"]) == 2
    assert message in capsys.readouterr().err


def test_unknown_key_in_yaml_names_file_and_key(tmp_path, capsys):
    cfg = tiny_sft_config(tmp_path)
    cfg["trainer"]["max_stpes"] = 3
    path = write_config(tmp_path, cfg)
    assert main(["fit", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "trainer.max_stpes" in err


def test_missing_config_file(capsys):
    assert main(["fit", "--config", "nope.yaml"]) == 2
    assert "config file not found: nope.yaml" in capsys.readouterr().err


def test_examples_without_trained_tokens_are_dropped_and_counted(tmp_path):
    # At 40 tokens every demo chat is too long; kept cut, most lose their whole answer and a few keep some of it.
    cfg = tiny_sft_config(
        tmp_path,
        data={"max_seq_length": 40, "val_files": [], "keep_truncated": True},
        trainer={"max_steps": 1},
    )
    result = fit(load_run_config(str(write_config(tmp_path, cfg))))
    data = result.module.trainer.datamodule
    assert data.dropped_examples > 0
    kept = sum(len(row) for row in data.train_items)
    assert kept + data.dropped_examples == 96
    assert data.counts["over_long_examples"] == 96
    run = MlflowClient(tracking_uri=cfg["tracking"]["uri"]).get_run(result.run_id)
    assert run.data.tags["data.dropped_examples"] == str(data.dropped_examples)
    assert run.data.tags["data.over_long_examples"] == "96"


def test_export_pairs_the_weights_with_the_tokenizer_they_were_trained_with(finished_run, tmp_path, capsys):
    tmp, cfg, result = finished_run
    run = Path(cfg.trainer.output_dir)
    assert (run / "config.yaml").is_file() and (run / "tokenizer" / "tokenizer.json").is_file()
    checkpoint = run / "checkpoints" / "last.ckpt"
    # A config whose data differ would train another tiny tokenizer: refused, not exported with the weights.
    other = f"data.train_files=[{tmp / 'other.jsonl'}]"
    (tmp / "other.jsonl").write_text('{"messages": [{"role": "user", "content": "Zebra quartz?"}]}\n')
    config = str(write_config(tmp, tiny_sft_config(tmp), "export.yaml"))
    argv = [
        "export",
        "--checkpoint",
        str(checkpoint),
        "--out",
        str(tmp_path / "e0"),
        "--config",
        config,
        other,
    ]
    assert main(argv) == 2
    assert "data.train_files is" in capsys.readouterr().err and not (tmp_path / "e0").exists()
    # Without a config: the run directory's own config and tokenizer.
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "e")]) == 0
    exported = tmp_path / "e"
    assert (exported / "tokenizer.json").read_bytes() == (run / "hf" / "tokenizer.json").read_bytes()
    expected = load_file(result.hf_dir / "model.safetensors")
    got = load_file(exported / "model.safetensors")
    assert got.keys() == expected.keys() and all(torch.equal(got[k], v) for k, v in expected.items())
