"""Bad input, as a new user would give it: each case is one line on stderr naming the file, line or key, exit
code 2, and nothing the user had is changed. Every command runs in-process through `cli.main`."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import types
from pathlib import Path

import pytest

from tests.conftest import DEMO_DATA, REPO, tiny_config, tiny_sft_config, write_config
from tulu_lightning import cli
from tulu_lightning.errors import (
    ChatFormatError,
    CLIError,
    ConfigError,
    DataError,
    OutputError,
    TrackingError,
    UserError,
    VerifierError,
)

DECONTAM = REPO / "tests" / "data" / "decontam"


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


def expect_error(capsys, message: str, *argv: str) -> None:
    """The command exits with 2 and prints exactly `error: <message>` (one line, no traceback)."""
    code, err = run_cli(capsys, *argv)
    assert (code, err) == (2, f"error: {message}\n")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- one error path -----------------------------------------------------------------------------------------


@pytest.fixture
def command(monkeypatch):
    """Registers a `boom` command that raises the exception given to it."""
    module = types.ModuleType(cli.command_module("boom"))
    module.configure_parser = lambda parser: None
    module.run = lambda args: (_ for _ in ()).throw(module.error)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(cli, "COMMANDS", {"boom": "raises"})
    return module


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("optim.lr: must be > 0, got -0.001"),
        DataError("train.jsonl:3: invalid JSON (Expecting value at column 1)"),
        ChatFormatError("train.jsonl: row 3: message 0 has unknown role 'tool'"),
        VerifierError('unknown verifier "nope"', 4),
        OutputError("out/x.jsonl: writing it would overwrite the input x.jsonl; choose another output"),
        TrackingError("tracking.uri: no MLflow server answers at http://127.0.0.1:9"),
        CLIError("--checkpoint x.ckpt: not a checkpoint file"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_user_error_is_one_line_with_exit_code_2(capsys, command, error):
    assert isinstance(error, UserError)
    command.error = error
    expect_error(capsys, str(error), "boom")


def test_a_multi_line_user_error_is_joined_on_one_line(capsys, command):
    command.error = DataError("x.jsonl:1: bad row\n  (the first of several)")
    expect_error(capsys, "x.jsonl:1: bad row; (the first of several)", "boom")


def test_our_own_bug_shows_its_traceback_and_asks_for_a_report(capsys, command):
    command.error = KeyError("content")
    code, err = run_cli(capsys, "boom")
    assert code == 1
    assert "Traceback (most recent call last)" in err and "KeyError: 'content'" in err
    assert err.endswith(f"error: {cli.BUG_HINT}\n")


# --- config values out of range, refused before any model is built ------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lr=-1e-3", "optim.lr: must be > 0, got -0.001"),
        ("optim.lr=0", "optim.lr: must be > 0, got 0.0"),
        ("optim.eps=0", "optim.eps: must be > 0, got 0.0"),
        ("optim.weight_decay=-0.1", "optim.weight_decay: must be >= 0, got -0.1"),
        ("optim.betas=[0.9,1.5]", "optim.betas[1]: must be >= 0 and < 1, got 1.5"),
        ("optim.betas=[0.9]", "optim.betas: expected two values [beta1, beta2], got [0.9]"),
        ("optim.warmup_ratio=1.5", "optim.warmup_ratio: must be >= 0 and <= 1, got 1.5"),
        ("optim.warmup_steps=-2", "optim.warmup_steps: must be >= 0, got -2"),
        ("optim.max_grad_norm=0", "optim.max_grad_norm: must be > 0, got 0.0"),
        ("trainer.micro_batch_size=0", "trainer.micro_batch_size: must be >= 1, got 0"),
        ("trainer.gradient_accumulation_steps=0", "trainer.gradient_accumulation_steps: must be >= 1, got 0"),
        ("trainer.max_steps=0", "trainer.max_steps: must be >= 1, got 0"),
        ("trainer.checkpoint_every_n_steps=0", "trainer.checkpoint_every_n_steps: must be >= 1, got 0"),
        ("trainer.val_check_interval=1.5", "trainer.val_check_interval: must be > 0 and <= 1, got 1.5"),
        ("trainer.val_check_interval=0", "trainer.val_check_interval: must be >= 1, got 0"),
        ("data.val_fraction=1.0", "data.val_fraction: must be >= 0 and < 1, got 1.0"),
        ("data.max_seq_length=1", "data.max_seq_length: must be >= 2, got 1"),
        ("data.max_train_samples=0", "data.max_train_samples: must be >= 1, got 0"),
        ("eval.max_new_tokens=0", "eval.max_new_tokens: must be >= 1, got 0"),
        ("model.tiny.num_attention_heads=5", "model.tiny.hidden_size: 48 is not a multiple of num_attention_heads (5)"),
        ("model.tiny.num_key_value_heads=3", "model.tiny.num_key_value_heads: 3 does not divide num_attention_heads (4)"),
    ],
)  # fmt: skip
def test_out_of_range_values_name_the_key(tmp_path, capsys, override, message):
    config = write_config(tmp_path, tiny_sft_config(tmp_path))
    expect_error(capsys, message, "fit", "--config", config, override, "--print-config")


@pytest.mark.parametrize(
    ("objective", "override", "message"),
    [
        ("dpo", "dpo.beta=-0.1", "dpo.beta: must be > 0, got -0.1"),
        ("dpo", "dpo.label_smoothing=0.5", "dpo.label_smoothing: must be >= 0 and < 0.5, got 0.5"),
        ("grpo", "rlvr.beta=-0.01", "rlvr.beta: must be >= 0, got -0.01"),
        ("grpo", "rlvr.top_p=0", "rlvr.top_p: must be > 0 and <= 1, got 0.0"),
        ("grpo", "rlvr.temperature=0", "rlvr.temperature: must be > 0, got 0.0"),
        ("grpo", "rlvr.max_new_tokens=512", "rlvr.max_new_tokens: must be < 512, got 512"),
        ("ppo", "ppo.lam=1.5", "ppo.lam: must be >= 0 and <= 1, got 1.5"),
        ("ppo", "ppo.value_loss_coef=-1", "ppo.value_loss_coef: must be >= 0, got -1.0"),
    ],
)
def test_objective_values_out_of_range(tmp_path, capsys, objective, override, message):
    dataset = "preference" if objective == "dpo" else "rlvr"
    config = write_config(tmp_path, tiny_config(tmp_path, objective, dataset, data={"max_seq_length": 512}))
    expect_error(capsys, message, "fit", "--config", config, override, "--print-config")


# --- data files that are not JSONL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"1\n", "{path}:1: expected a JSON object, got a number"),
        (b'{"messages": []}\n\n"text"\n', "{path}:3: expected a JSON object, got a string"),
        (b"[1, 2]\n", "{path}:1: expected a JSON object, got an array"),
        (b"null\n", "{path}:1: expected a JSON object, got null"),
        (b"\xff\xfe\x00\x01garbage\n", "{path}:1: not UTF-8 text (byte 0xff at column 1)"),
        (b'{"a": 1}\n{"b": "caf\xe9"}\n', "{path}:2: not UTF-8 text (byte 0xe9 at column 11)"),
        (b'{"messages": [\n', "{path}:1: invalid JSON (Expecting value at column 15)"),
        (b'{"a": 1} {"b": 2}\n', "{path}:1: invalid JSON (Extra data at column 10)"),
    ],
    ids=["number", "string", "array", "null", "binary", "latin-1", "truncated", "two-objects"],
)
def test_bad_jsonl_names_file_and_line(tmp_path, capsys, content, message):
    data = tmp_path / "train.jsonl"
    data.write_bytes(content)
    config = write_config(tmp_path, tiny_sft_config(tmp_path, data={"train_files": [str(data)]}))
    expect_error(capsys, message.format(path=data), "fit", "--config", config)
    # the failed start leaves nothing that blocks the run once the data is fixed
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_utf8_bom_is_not_an_error(tmp_path):
    from tulu_lightning.files import read_jsonl

    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n{"b": "\xc3\xa9"}\n')
    assert read_jsonl(path) == [{"a": 1}, {"b": "é"}]


# --- fit's output directory ---------------------------------------------------------------------------------


def test_fit_refuses_a_directory_holding_an_earlier_run(tmp_path, capsys):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "last.ckpt").write_bytes(b"an earlier run")
    config = write_config(tmp_path, tiny_sft_config(tmp_path))
    message = (
        f"trainer.output_dir {tmp_path / 'run'}: holds an earlier run (checkpoints); choose a new output_dir, "
        "continue it with trainer.resume_from=last, or replace it with --overwrite"
    )
    expect_error(capsys, message, "fit", "--config", config)
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").read_bytes() == b"an earlier run"


def test_fit_never_replaces_the_model_it_starts_from(tmp_path, capsys):
    model = tmp_path / "run" / "hf"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    config = write_config(
        tmp_path, tiny_sft_config(tmp_path, model={"name_or_path": str(model), "tiny": None})
    )
    message = (
        f"{tmp_path / 'run' / 'hf'}: writing it would overwrite the input {model}; choose another output"
    )
    expect_error(capsys, message, "fit", "--config", config, "--overwrite")
    assert (model / "config.json").read_text() == "{}"


def test_fit_refuses_a_directory_another_fit_is_using(tmp_path, capsys):
    from tulu_lightning.files import file_lock

    config = write_config(tmp_path, tiny_sft_config(tmp_path))
    out = tmp_path / "run"
    with file_lock(out / ".lock"):
        message = f"trainer.output_dir {out}: another process is using it (it holds {out / '.lock'})"
        expect_error(capsys, message, "fit", "--config", config)


def test_resume_last_without_a_checkpoint(tmp_path, capsys):
    config = write_config(tmp_path, tiny_sft_config(tmp_path))
    message = f"trainer.resume_from=last: no checkpoint in {tmp_path / 'run' / 'checkpoints'}"
    expect_error(capsys, message, "fit", "--config", config, "trainer.resume_from=last")


def test_resume_with_a_changed_config_is_refused(tmp_path, capsys):
    from tulu_lightning.config import to_yaml
    from tulu_lightning.train import load_run_config

    config = write_config(tmp_path, tiny_sft_config(tmp_path))
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(to_yaml(load_run_config(str(config))))
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    message = (
        f"trainer.resume_from: optim.lr is 0.002 here but 0.001 in {run.resolve() / 'config.yaml'}, the config "
        f"the checkpoint was trained with; resume with --config {run.resolve() / 'config.yaml'}"
    )
    expect_error(capsys, message, "fit", "--config", config, "trainer.resume_from=last", "optim.lr=2e-3")


def test_resume_last_is_the_newest_checkpoint_never_a_stale_one(tmp_path):
    from tulu_lightning.train import newest_checkpoint

    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    for age, name in enumerate(["last-v1.ckpt", "step8.ckpt", "last.ckpt"]):  # last.ckpt is the oldest
        (checkpoints / name).write_bytes(b"")
        os.utime(checkpoints / name, ns=(10**18 - age * 10**9,) * 2)
    (checkpoints / ".partial-7-last.ckpt").write_bytes(b"")  # being written: never a candidate
    assert newest_checkpoint(checkpoints).name == "last-v1.ckpt"


# --- decontaminate and verify never write their inputs -------------------------------------------------------


def test_decontaminate_refuses_to_overwrite_a_training_file_in_out(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    train = out / "contaminated.jsonl"  # named like one of the outputs
    train.write_bytes((DECONTAM / "train_sample.jsonl").read_bytes())
    before = digest(train)
    argv = ["decontaminate", "--benchmarks", f"gsm8k={DECONTAM / 'gsm8k_sample.jsonl'}:question",
            "--train", train, "--out", out, "--no-progress", "tracking.enabled=false"]  # fmt: skip
    message = (
        f"{out / 'contaminated.jsonl'}: writing it would overwrite the input {train}; choose another output"
    )
    expect_error(capsys, message, *argv)
    expect_error(capsys, message, *argv, "--overwrite")
    assert digest(train) == before and sorted(p.name for p in out.iterdir()) == ["contaminated.jsonl"]


def test_decontaminate_refuses_a_non_empty_out_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "clean").mkdir(parents=True)
    (out / "clean" / "old.jsonl").write_text("{}\n")
    argv = ["decontaminate", "--benchmarks", f"gsm8k={DECONTAM / 'gsm8k_sample.jsonl'}:question",
            "--train", DECONTAM / "train_sample.jsonl", "--out", out, "--no-progress", "tracking.enabled=false"]  # fmt: skip
    message = f"--out {out}: the directory is not empty; choose a new one or pass --overwrite to replace its outputs"
    expect_error(capsys, message, *argv)
    assert cli.main([str(a) for a in [*argv, "--overwrite"]]) == 0
    assert (out / "report.json").is_file() and (out / "clean" / "train_sample.jsonl").is_file()
    assert not [p for p in out.rglob("*") if p.name.startswith(".partial-")]


def test_decontaminate_output_through_a_symlink_to_its_input(tmp_path, capsys):
    train = tmp_path / "train.jsonl"
    train.write_bytes((DECONTAM / "train_sample.jsonl").read_bytes())
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "report.json").symlink_to(train)
    argv = ["decontaminate", "--benchmarks", f"gsm8k={DECONTAM / 'gsm8k_sample.jsonl'}:question",
            "--train", train, "--out", tmp_path / "out", "--no-progress", "tracking.enabled=false", "--overwrite"]  # fmt: skip
    message = f"{tmp_path / 'out' / 'report.json'}: writing it would overwrite the input {train}; choose another output"
    expect_error(capsys, message, *argv)


@pytest.fixture
def predictions(tmp_path) -> Path:
    path = tmp_path / "x.jsonl"
    path.write_text(
        json.dumps({"response": "so the answer is 3", "ground_truth": "3", "dataset": "gsm8k"}) + "\n"
    )
    return path


def test_verify_refuses_to_replace_its_input(capsys, predictions):
    before = digest(predictions)
    message = f"{predictions}: writing it would overwrite the input {predictions}; choose another output"
    expect_error(capsys, message, "verify", "--input", predictions, "--output", predictions, "--overwrite")
    link = predictions.with_name("link.jsonl")
    link.symlink_to(predictions)
    message = f"{link}: writing it would overwrite the input {predictions}; choose another output"
    expect_error(capsys, message, "verify", "--input", predictions, "--output", link, "--overwrite")
    hard = predictions.with_name("hard.jsonl")
    os.link(predictions, hard)
    message = f"{hard}: writing it would overwrite the input {predictions}; choose another output"
    expect_error(capsys, message, "verify", "--input", predictions, "--output", hard, "--overwrite")
    assert digest(predictions) == before


def test_verify_refuses_an_existing_output_unless_overwrite(capsys, predictions):
    output = predictions.with_name("verdicts.jsonl")
    output.write_text("earlier verdicts\n")
    message = f"--output {output}: already exists; choose another path or pass --overwrite"
    expect_error(capsys, message, "verify", "--input", predictions, "--output", output)
    assert output.read_text() == "earlier verdicts\n"
    assert cli.main(["verify", "--input", str(predictions), "--output", str(output), "--overwrite"]) == 0
    assert json.loads(output.read_text())["status"] == "correct"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([b"1"], "{path}:1: expected a JSON object, got a number"),
        ([b"\xff\xfe"], "{path}:1: not UTF-8 text (byte 0xff at column 1)"),
        ([b'{"response": "x"'], "{path}:1: invalid JSON (Expecting ',' delimiter at column 17)"),
        (
            [b'{"response": "4", "ground_truth": "4", "dataset": "gsm8k"}', b"", b'{"ground_truth": "3"}'],
            "{path}:3: missing field 'dataset' (fields: ['ground_truth'])",
        ),
        (
            [b'{"response": "x", "ground_truth": "3", "dataset": "nope"}'],
            '{path}:1: unknown verifier "nope" (known: gsm8k, math, strict_math, ifeval, ifbench, string_f1, exact_match;'
            " also ifeval_old = ifeval, string_matcher = exact_match, puzzle = exact_match)",
        ),
        ([], "--input {path}: no rows"),
    ],
    ids=["number", "binary", "truncated", "missing-field", "unknown-verifier", "empty"],
)
def test_verify_bad_input(tmp_path, capsys, lines, message):
    path = tmp_path / "preds.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    expect_error(capsys, message.format(path=path), "verify", "--input", path)
    assert not path.with_suffix(".verdicts.jsonl").exists()


def test_verify_missing_input(tmp_path, capsys):
    expect_error(
        capsys, f"--input {tmp_path / 'no.jsonl'}: no such file", "verify", "--input", tmp_path / "no.jsonl"
    )


# --- export, eval and waywardness ----------------------------------------------------------------------------


def fake_run_dir(tmp_path: Path) -> Path:
    """A run directory as `fit` leaves it (its checkpoint is not read by the errors below)."""
    from tulu_lightning.config import to_yaml
    from tulu_lightning.train import load_run_config

    config = write_config(tmp_path, tiny_sft_config(tmp_path))
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(to_yaml(load_run_config(str(config))))
    checkpoint = run / "checkpoints" / "last.ckpt"
    checkpoint.write_bytes(b"")
    return checkpoint


def test_export_with_a_config_that_did_not_train_the_checkpoint(tmp_path, capsys):
    checkpoint = fake_run_dir(tmp_path)
    other = write_config(
        tmp_path,
        tiny_sft_config(tmp_path, data={"train_files": [str(DEMO_DATA / "sft_val.jsonl")]}),
        "other.yaml",
    )
    saved = checkpoint.parent.parent.resolve() / "config.yaml"
    message = (
        f"--checkpoint {checkpoint}: data.train_files is ['{DEMO_DATA / 'sft_val.jsonl'}'] here but "
        f"['{DEMO_DATA / 'sft_train.jsonl'}'] in {saved}, the config the checkpoint was trained with; "
        f"resume with --config {saved}"
    )
    expect_error(
        capsys, message, "export", "--checkpoint", checkpoint, "--out", tmp_path / "e", "--config", other
    )


def test_export_refuses_a_non_empty_out_and_a_checkpoint_inside_it(tmp_path, capsys):
    checkpoint = fake_run_dir(tmp_path)
    out = tmp_path / "e"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    message = f"--out {out}: the directory is not empty; choose a new one or pass --overwrite to replace its outputs"
    expect_error(capsys, message, "export", "--checkpoint", checkpoint, "--out", out)
    run = checkpoint.parent.parent
    message = f"{run}: replacing it would delete the input {checkpoint}; choose another output"
    expect_error(capsys, message, "export", "--checkpoint", checkpoint, "--out", run, "--overwrite")
    assert (out / "keep.txt").read_text() == "mine" and checkpoint.exists()


def test_export_without_a_run_directory_needs_a_config(tmp_path, capsys):
    checkpoint = tmp_path / "model.ckpt"
    checkpoint.write_bytes(b"")
    message = f"--checkpoint {checkpoint}: its run directory has no config.yaml; give --config"
    expect_error(capsys, message, "export", "--checkpoint", checkpoint, "--out", tmp_path / "e")


def test_eval_never_writes_over_its_inputs(tmp_path, capsys):
    """`eval`'s output_dir may not be (or hold) the model or the local benchmark copies, even with --overwrite."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    data = tmp_path / "eval" / "benchmarks"
    data.mkdir(parents=True)
    (data / "gsm8k.jsonl").write_text("{}\n")
    for out, given in ((tmp_path / "eval", data), (model, model)):
        message = f"{out}: replacing it would delete the input {given}; choose another output"
        if out == given:
            message = f"{out}: writing it would overwrite the input {given}; choose another output"
        expect_error(capsys, message, "eval", "--suite", "tulu3_dev", "--model", model, "--local-data", data,
                     "--output-dir", out, "--overwrite", "tracking.enabled=false")  # fmt: skip
    assert (data / "gsm8k.jsonl").read_text() == "{}\n" and (model / "config.json").read_text() == "{}"


def test_waywardness_refuses_a_non_empty_out_dir(tmp_path, capsys):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "summary.md").write_text("an earlier sweep")
    argv = ["waywardness", "--config", REPO / "configs" / "demo" / "waywardness.yaml", f"sweep.out_dir={out}"]
    message = f"sweep.out_dir {out}: the directory is not empty; choose a new one or pass --overwrite to replace its outputs"
    expect_error(capsys, message, *argv)
    assert (out / "summary.md").read_text() == "an earlier sweep"
