"""The preference demos learn, from the demo SFT model, on held-out pairs (the SFT validation problems, never
trained on): DPO moves the policy toward the correct answers, and the reward model ranks them first."""

import pytest
from conftest import demo_config
from mlflow import MlflowClient

from tulu_lightning.train import fit

pytestmark = pytest.mark.slow


def val_history(tracking_uri: str, run_id: str) -> dict[str, list[float]]:
    client = MlflowClient(tracking_uri=tracking_uri)
    metrics = client.get_run(run_id).data.metrics
    return {
        key: [m.value for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)]
        for key in metrics
        if key.startswith("val/")
    }


def test_dpo_moves_the_policy_toward_correct_answers(demo_sft, tmp_path):
    cfg = demo_config(
        "dpo",
        "preference",
        tmp_path,
        f"model.name_or_path={demo_sft.hf_dir}",
        f"dpo.reference_cache_dir={tmp_path / 'cache'}",
    )
    history = val_history(cfg.tracking.uri, fit(cfg).run_id)
    # The DPO policy's implicit reward β·(log π − log π_ref)/|y| ranks the correct answer first on held-out pairs
    # (at the start policy = reference: every pair ties, the loss is log 2).
    assert history["val/rewards/accuracy"][-1] >= 0.7, history
    assert history["val/loss"][-1] < 0.65, history
    # The policy's own log-probs prefer the correct answer more often than the SFT model's (the reference) did.
    assert history["val/preference_accuracy"][-1] > history["val/ref_preference_accuracy"][-1], history
    # Greedy answers to the same held-out prompts (gsm8k verifier) beat the SFT model's: every chosen answer ends
    # on the result, the format the verifier reads.
    sft_accuracy = val_history(demo_sft.module.cfg.tracking.uri, demo_sft.run_id)["val/accuracy"][-1]
    assert history["val/accuracy"][-1] >= sft_accuracy + 0.05, (sft_accuracy, history)


def test_reward_model_ranks_held_out_pairs(demo_rm):
    # A fifth of the rejected answers each: wrong operation and unstated answer are read off almost always, the
    # three arithmetic slips (wrong sum, misread operand, contradicting final answer) about 0.45-0.7 of the time
    # by this 4-layer backbone; in all about 0.75 (see the issue note).
    history = val_history(demo_rm.module.cfg.tracking.uri, demo_rm.run_id)
    assert history["val/accuracy"][-1] >= 0.65, history
    assert history["val/loss"][-1] < 0.6, history
