"""The preference demos learn, from the demo SFT model, on held-out pairs (the SFT validation problems, never
trained on): DPO moves the policy toward the correct answers, and the reward model ranks them well above chance."""

import pytest
from conftest import DEMO_DATA, REPO
from mlflow import MlflowClient

from tulu_lightning.train import fit, load_run_config

pytestmark = pytest.mark.slow


def run_demo(demo_sft, tmp_path, name: str) -> tuple[dict[str, list[float]], object]:
    cfg = load_run_config(
        str(REPO / "configs" / "demo" / f"{name}.yaml"),
        [
            f"model.name_or_path={demo_sft.hf_dir}",
            f"data.train_files=[{DEMO_DATA / 'preference_train.jsonl'}]",
            f"data.val_files=[{DEMO_DATA / 'preference_val.jsonl'}]",
            f"trainer.output_dir={tmp_path / name}",
            f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
            "tracking.log_model=false",
            *([f"dpo.reference_cache_dir={tmp_path / 'cache'}"] if name == "dpo" else []),
        ],
    )
    result = fit(cfg)
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    metrics = client.get_run(result.run_id).data.metrics
    history = {
        key: [m.value for m in sorted(client.get_metric_history(result.run_id, key), key=lambda m: m.step)]
        for key in metrics
        if key.startswith("val/")
    }
    return history, result


def test_dpo_moves_the_policy_toward_correct_answers(demo_sft, tmp_path):
    history, _ = run_demo(demo_sft, tmp_path, "dpo")
    # The DPO policy's implicit reward β·(log π − log π_ref)/|y| ranks the correct answer first on held-out pairs
    # (at the start policy = reference: every pair ties, the loss is log 2).
    assert history["val/rewards/accuracy"][-1] >= 0.7, history
    assert history["val/loss"][-1] < 0.65, history


def test_reward_model_ranks_held_out_pairs(demo_sft, tmp_path):
    history, _ = run_demo(demo_sft, tmp_path, "rm")
    assert history["val/accuracy"][-1] >= 0.75, history
