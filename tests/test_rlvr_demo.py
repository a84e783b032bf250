"""The RLVR demos learn: from the demo SFT model, GRPO and PPO each raise held-out greedy accuracy (gsm8k verifier,
on rlvr_val.jsonl prompts never trained on) by a clear margin. Seeded; a few minutes on CPU each."""

import pytest
from conftest import DEMO_DATA, REPO
from mlflow import MlflowClient

from tulu_lightning.train import fit, load_run_config

pytestmark = [
    pytest.mark.slow,
    # Not yet true: from a 10-epoch demo SFT model (14% held out, 100 prompts), the committed demo settings gave
    # GRPO (30 steps, LR 1e-4) 0.14 -> 0.13 and PPO (6 rollout batches, LR 1e-4) 0.14 -> 0.11; GRPO at LR 5e-4
    # with 2 epochs x 2 minibatches, 0.14 -> 0.07. Tune (LR, steps, group size) on a quiet machine, then drop this.
    pytest.mark.xfail(run=False, reason="RLVR demo hyperparameters not tuned yet: no clear accuracy gain"),
]


def run_demo(demo_sft, tmp_path, name: str, *overrides: str) -> list[float]:
    cfg = load_run_config(
        str(REPO / "configs" / "demo" / f"rlvr_{name}.yaml"),
        [
            f"model.name_or_path={demo_sft.hf_dir}",
            f"data.train_files=[{DEMO_DATA / 'rlvr_train.jsonl'}]",
            f"data.val_files=[{DEMO_DATA / 'rlvr_val.jsonl'}]",
            f"trainer.output_dir={tmp_path / name}",
            f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
            "tracking.log_model=false",
            "trainer.seed=0",
            "eval.max_prompts=100",
            *overrides,
        ],
    )
    result = fit(cfg)
    history = MlflowClient(tracking_uri=cfg.tracking.uri).get_metric_history(result.run_id, "val/accuracy")
    return [m.value for m in sorted(history, key=lambda m: m.step)]


def test_grpo_raises_held_out_accuracy(demo_sft, tmp_path):
    accuracy = run_demo(demo_sft, tmp_path, "grpo")
    assert accuracy[-1] >= accuracy[0] + 0.1, accuracy


def test_ppo_raises_held_out_accuracy(demo_sft, tmp_path):
    accuracy = run_demo(demo_sft, tmp_path, "ppo")
    assert accuracy[-1] >= accuracy[0] + 0.1, accuracy
