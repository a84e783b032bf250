"""Two CPU processes (gloo) with FSDP2 through Lightning's ModelParallelStrategy, and with DDP, train to the same
weights as one process that sees the same global batches."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import REPO, tiny_sft_config, write_config

pytestmark = pytest.mark.distributed


def run_fit(config_path, *overrides: str) -> None:
    run_python("-m", "tulu_lightning", "fit", "--config", str(config_path), *overrides)


def run_python(*arguments: str) -> None:
    """`python <arguments>` from the repository root, one torch thread, launched afresh (not as a rank)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    env.pop("LOCAL_RANK", None)
    process = subprocess.run(
        [sys.executable, *arguments],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]


@pytest.fixture(scope="module")
def single_process_weights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("single")
    cfg = tiny_sft_config(tmp, trainer={"max_steps": 4, "micro_batch_size": 4}, tracking={"enabled": False})
    cfg["data"]["val_files"] = []
    run_fit(write_config(tmp, cfg))
    return load_file(tmp / "run" / "hf" / "model.safetensors")


@pytest.mark.parametrize("strategy", ["fsdp2", "ddp"])
def test_two_processes_match_one(tmp_path, single_process_weights, strategy):
    # 2 ranks x 2 rows per micro-batch = the single process's 4 rows per step.
    cfg = tiny_sft_config(
        tmp_path,
        trainer={"max_steps": 4, "micro_batch_size": 2, "devices": 2, "strategy": strategy},
        tracking={"enabled": False},
    )
    cfg["data"]["val_files"] = []
    run_fit(write_config(tmp_path, cfg))
    weights = load_file(tmp_path / "run" / "hf" / "model.safetensors")
    assert weights.keys() == single_process_weights.keys()
    for name, value in single_process_weights.items():
        torch.testing.assert_close(weights[name], value, rtol=1e-4, atol=1e-5, msg=name)
