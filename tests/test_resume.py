"""Exact resume after a SIGKILL, end to end, for SFT, DPO and GRPO.

A `fit` of 7 steps (2 an epoch) runs in a child process with checkpoints every 3 steps; once its 4th step is
logged the test SIGKILLs it, then resumes it with `trainer.resume_from=last`, from step 3: mid-epoch. The resumed
run crosses the epoch boundaries at steps 4 and 6 and must give the per-step `train/loss` read from MLflow and
the final weights of an uninterrupted run, exactly, logged into the same MLflow run.

The children are forked from a server that has imported torch once (`forkserver` with preloading), so the three
kills cost one interpreter start-up, not three.
"""

from __future__ import annotations

import json
import multiprocessing
import signal
import time
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient
from safetensors.torch import load_file

from tests.conftest import DEMO_DATA, tiny_config, tiny_preference_config, tiny_sft_config, write_config
from tulu_lightning.train import checkpoint_metadata, fit, load_run_config

STEPS_PER_EPOCH, CHECKPOINT_EVERY, STEPS = 2, 3, 7  # checkpoints at steps 3 (mid-epoch) and 6
KILLED_AT = (
    4  # the child is killed as it starts its 5th step: step 4 is logged, the last checkpoint is step 3
)


def sft(tmp: Path) -> dict:
    return tiny_sft_config(
        tmp, data={"max_train_samples": 8, "val_files": []}, trainer={"micro_batch_size": 4}
    )


def dpo(tmp: Path) -> dict:
    return tiny_preference_config(
        tmp,
        "dpo",
        data={"max_train_samples": 4, "val_files": []},
        trainer={"micro_batch_size": 2},
    )


def grpo(tmp: Path) -> dict:
    # "At most 2 words": about 2/3 of a random tiny model's 8-token samples pass, so groups of 8 carry a signal
    # and every step updates the weights with sampled (random-state) responses (a rollout batch whose groups all
    # drop is an optimizer step with no loss to log).
    truth = json.dumps({"func_name": "validate_word_constraint", "N": 2, "quantifier": "at most"})
    rows = [
        {**row, "ground_truth": truth, "dataset": "ifeval"} for row in _rows(DEMO_DATA / "rlvr_train.jsonl")
    ]
    (tmp / "prompts.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows[:4]))
    return tiny_config(
        tmp,
        "grpo",
        "rlvr",
        data={"train_files": [str(tmp / "prompts.jsonl")], "val_files": [], "max_seq_length": 96},
        trainer={"micro_batch_size": 2},
        rlvr={"samples_per_prompt": 8, "max_new_tokens": 8, "temperature": 1.0},
    )


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _config(make, tmp_path: Path, name: str, uri: str) -> Path:
    """The config of run `name`, writing to `tmp_path/name/run`, tracked in `uri`; the runs of a test share
    DPO's reference cache."""
    (tmp_path / name).mkdir()
    cfg = make(tmp_path / name)
    cfg["trainer"].update(
        max_steps=STEPS, max_epochs=-1, checkpoint_every_n_steps=CHECKPOINT_EVERY, log_every_n_steps=1
    )
    cfg["tracking"].update(uri=uri, log_model=False)
    if "dpo" in cfg:
        cfg["dpo"]["reference_cache_dir"] = str(tmp_path / "reference_cache")
    return write_config(tmp_path / name, cfg)


# --- the child: trains until the test kills it -----------------------------------------------------------


def _train_until_killed(config_path: str, marker: str) -> None:
    from lightning.pytorch.callbacks import Callback

    class Stall(Callback):
        """Waits for the kill once step KILLED_AT is logged (the last checkpoint is at step 3)."""

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if trainer.global_step == KILLED_AT:
                Path(marker).touch()
                time.sleep(600)

    fit(load_run_config(config_path), callbacks=[Stall()])


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One MLflow store for the module's runs (a new SQLite store takes seconds to create)."""
    return f"sqlite:///{tmp_path_factory.mktemp('tracking') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def fork_context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tulu_lightning.train", "tests.test_resume"])
    return context


def kill_mid_run(context, config_path: Path) -> None:
    marker = config_path.parent / "stalled"
    child = context.Process(target=_train_until_killed, args=(str(config_path), str(marker)))
    child.start()
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert child.is_alive(), f"the child ended before step {KILLED_AT} (exit code {child.exitcode})"
        assert time.monotonic() < deadline, "the child never reached the step to kill it at"
        time.sleep(0.1)
    child.kill()  # SIGKILL
    child.join()
    assert child.exitcode == -signal.SIGKILL


# --- the test ----------------------------------------------------------------------------------------------


def losses(uri: str, run_id: str) -> dict[int, float]:
    """train/loss per step; a step logged twice (by the killed process and again after the resume) must have
    logged the same value both times."""
    by_step: dict[int, set[float]] = {}
    for metric in MlflowClient(uri).get_metric_history(run_id, "train/loss"):
        by_step.setdefault(metric.step, set()).add(metric.value)
    assert all(len(values) == 1 for values in by_step.values()), by_step
    return {step: values.pop() for step, values in sorted(by_step.items())}


@pytest.mark.parametrize("make", [sft, dpo, grpo], ids=["sft", "dpo", "grpo"])
def test_sigkill_then_resume_gives_the_uninterrupted_run(tmp_path, fork_context, store, make):
    uri = store
    straight_config = _config(make, tmp_path, "straight", uri)
    killed_config = _config(make, tmp_path, "killed", uri)

    straight = fit(load_run_config(str(straight_config)))
    assert straight.module.trainer.datamodule.steps_per_epoch() == STEPS_PER_EPOCH

    kill_mid_run(fork_context, killed_config)
    checkpoints = tmp_path / "killed" / "run" / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("*.ckpt")) == ["last.ckpt", "step3.ckpt"]
    meta = checkpoint_metadata(checkpoints / "last.ckpt")
    position = meta["data_position"]
    assert meta["global_step"] == 3 and 0 < position["steps_in_epoch"] < STEPS_PER_EPOCH  # mid-epoch
    killed_run = meta["mlflow_run_id"]
    assert MlflowClient(uri).get_run(killed_run).info.status == "RUNNING"
    assert (
        max(losses(uri, killed_run)) == KILLED_AT - 1
    )  # the killed process logged a step past its checkpoint

    resumed = fit(load_run_config(str(killed_config), ["trainer.resume_from=last"]))

    # the same MLflow run, finished, with the interruption recorded
    assert resumed.run_id == killed_run
    run = MlflowClient(uri).get_run(killed_run)
    assert run.info.status == "FINISHED"
    assert "resumed at step 3" in run.data.tags["tulu_lightning.interrupted"]
    # step by step, across the epoch boundaries after the kill (and those before it)
    straight_losses = losses(uri, straight.run_id)
    assert len(straight_losses) == STEPS
    assert losses(uri, killed_run) == straight_losses
    # and the final weights
    expected = load_file(straight.hf_dir / "model.safetensors")
    got = load_file(resumed.hf_dir / "model.safetensors")
    initial = torch.load(checkpoints / "step3.ckpt", weights_only=False)["state_dict"]
    assert any(not torch.equal(initial["model." + k], v) for k, v in expected.items()), "training did nothing"
    for name, value in expected.items():
        assert torch.equal(got[name], value), name
    assert resumed.module.trainer.global_step == STEPS
    # two epoch boundaries crossed after the resume
    assert resumed.module.current_epoch >= position["epoch"] + 2

    # From the checkpoint of an epoch's last step, into a new directory: a new MLflow run, the same weights.
    boundary = tmp_path / "straight" / "run" / "checkpoints" / "step6.ckpt"
    assert checkpoint_metadata(boundary)["data_position"] == {"epoch": 2, "steps_in_epoch": STEPS_PER_EPOCH}
    overrides = [f"trainer.resume_from={boundary}", f"trainer.output_dir={tmp_path / 'branch'}"]
    branch = fit(load_run_config(str(straight_config), overrides))
    assert branch.run_id not in (straight.run_id, killed_run)
    assert losses(uri, branch.run_id) == {STEPS - 1: straight_losses[STEPS - 1]}
    got = load_file(branch.hf_dir / "model.safetensors")
    assert all(torch.equal(got[name], value) for name, value in expected.items())


def test_step_sampler_resumes_mid_epoch_for_one_pass_only():
    from tulu_lightning.data import StepSampler

    sampler = StepSampler(10, micro_batch_size=2, accumulation=1, seed=3)
    epochs = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        epochs.append(list(sampler))
    assert len(sampler) == 5 and epochs[0] != epochs[1] != epochs[2]  # every epoch its own order

    resumed = StepSampler(10, micro_batch_size=2, accumulation=1, seed=3)
    resumed.resume_at(1, 2)
    assert len(resumed) == 5  # Lightning counts the steps already done itself
    assert list(resumed) == epochs[1][2:]
    resumed.set_epoch(2)
    assert list(resumed) == epochs[2]

    at_epoch_end = StepSampler(10, micro_batch_size=2, accumulation=1, seed=3)
    at_epoch_end.resume_at(0, 5)  # saved after the last step of epoch 0: epoch 1 starts afresh
    assert list(at_epoch_end) == epochs[1]
