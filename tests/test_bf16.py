"""Every objective under `trainer.precision: bf16-mixed`, the precision of every configs/tulu3 config (on CPU:
autocast to bfloat16): two optimizer steps each, finite losses, trainable weights that moved and stayed
float32, and an export. No other test trains in bf16."""

import math

import pytest
import torch
from conftest import tiny_preference_config, tiny_sft_config, write_config
from test_rlvr_step import one_thread, rlvr_config  # noqa: F401  (the fixture is autouse)

from tulu_lightning.train import build_objective, fit, load_run_config

BF16 = {"precision": "bf16-mixed", "max_steps": 2, "export": True}


def config(tmp_path, objective: str):
    if objective in ("grpo", "ppo"):
        return rlvr_config(tmp_path, objective, trainer={**BF16, "max_steps": 4 if objective == "ppo" else 2})
    if objective == "sft":
        cfg = tiny_sft_config(tmp_path, trainer=BF16, tracking={"enabled": False}, eval={"enabled": False})
    else:
        cfg = tiny_preference_config(tmp_path, objective, trainer=BF16, tracking={"enabled": False})
    return load_run_config(str(write_config(tmp_path, cfg)))


@pytest.mark.parametrize("objective", ["sft", "dpo", "reward_model", "grpo", "ppo"])
def test_every_objective_trains_in_bf16_mixed(tmp_path, objective):
    cfg = config(tmp_path, objective)
    torch.manual_seed(cfg.trainer.seed)
    start = {k: v.clone() for k, v in build_objective(cfg)[0].model.state_dict().items()}
    result = fit(cfg, progress_bar=False)
    losses = {
        k: v for k, v in result.metrics.items() if "loss" in k
    }  # held-out for SFT, DPO, RM; train for RLVR
    assert losses and all(math.isfinite(v) for v in losses.values()), result.metrics
    weights = result.module.model.state_dict()
    assert all(v.dtype == torch.float32 for v in weights.values() if v.is_floating_point())
    assert any(not torch.equal(weights[k], v) for k, v in start.items())  # it learned
    assert (result.hf_dir / "config.json").is_file()
