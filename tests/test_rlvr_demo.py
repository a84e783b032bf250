"""The RLVR demos learn: from the demo SFT model, GRPO and PPO (a fresh value head; configs/demo/rlvr_ppo.yaml
says why not the demo reward model) each raise held-out greedy accuracy (gsm8k verifier, on rlvr_val.jsonl prompts
never trained on) by a clear margin. Seeded; a few minutes on CPU each.

Half the SFT answers end on a check of the working ("Check: 7 - 3 = 4.") rather than on the result, which the
verifier (last number) does not accept; most of what RL learns in minutes is to end on the answer, and some
arithmetic (scripts/make_demo_data.py)."""

import pytest
from conftest import demo_config
from mlflow import MlflowClient

from tulu_lightning.train import fit

pytestmark = pytest.mark.slow


def held_out_accuracy(cfg) -> list[float]:
    result = fit(cfg)
    history = MlflowClient(tracking_uri=cfg.tracking.uri).get_metric_history(result.run_id, "val/accuracy")
    return [m.value for m in sorted(history, key=lambda m: m.step)]


def test_grpo_raises_held_out_accuracy(demo_sft, tmp_path):
    cfg = demo_config(
        "rlvr_grpo", "rlvr", tmp_path, f"model.name_or_path={demo_sft.hf_dir}", "trainer.seed=0"
    )
    accuracy = held_out_accuracy(cfg)
    assert accuracy[-1] >= accuracy[0] + 0.1, accuracy


def test_ppo_raises_held_out_accuracy(demo_sft, tmp_path):
    cfg = demo_config(
        "rlvr_ppo",
        "rlvr",
        tmp_path,
        f"model.name_or_path={demo_sft.hf_dir}",
        "trainer.seed=0",
    )
    accuracy = held_out_accuracy(cfg)
    assert accuracy[-1] >= accuracy[0] + 0.1, accuracy
