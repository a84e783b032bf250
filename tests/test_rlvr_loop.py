"""The RLVR loop on a tiny random model: verifier routing, temperature scaling, ratio exactly 1 from identical
policies, frozen reference, config errors."""

import json

import pytest
import torch
from conftest import DEMO_DATA, tiny_sft_config, write_config

from tulu_lightning.config import ConfigError
from tulu_lightning.objectives.rlvr import response_logits, token_logprobs
from tulu_lightning.rollout import Completion, SamplingParams
from tulu_lightning.train import build_objective, load_run_config


def rlvr_config(tmp_path, objective="grpo", **rlvr):
    cfg = tiny_sft_config(tmp_path, objective=objective)
    cfg.pop("sft")
    cfg["data"] = {
        "train_files": [str(DEMO_DATA / "rlvr_train.jsonl")],
        "val_files": [str(DEMO_DATA / "rlvr_val.jsonl")],
        "max_seq_length": 96,
    }
    cfg["rlvr"] = {"samples_per_prompt": 4, "max_new_tokens": 8, "temperature": 0.7, **rlvr}
    cfg["trainer"]["max_steps"] = 4  # a multiple of PPO's 4 update epochs
    return load_run_config(str(write_config(tmp_path, cfg)))


@pytest.fixture(params=["grpo", "ppo"])
def module(request, tmp_path):
    torch.manual_seed(0)
    module, datamodule = build_objective(rlvr_config(tmp_path, request.param))
    datamodule.setup()
    module.prompts = datamodule.train_items[:3]
    return module


class FixedRollout:
    """A rollout backend that answers every prompt with given texts (to test reward routing only)."""

    def __init__(self, tokenizer, texts):
        self.tokenizer, self.texts = tokenizer, texts

    def generate(self, prompts, params):
        out = []
        for index in range(len(prompts)):
            for text in self.texts:
                ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] + [
                    self.tokenizer.eos_token_id
                ]
                out.append(Completion(index, ids, text, [0.0] * len(ids), "stop"))
        return out


def test_mixed_batch_routes_each_row_to_its_verifier(module):
    prompts = [
        {"prompt_ids": [5, 6, 7], "ground_truth": "21", "verifier": "gsm8k"},
        {
            "prompt_ids": [5, 6],
            "ground_truth": json.dumps({"func_name": "validate_lowercase"}),
            "verifier": "ifeval",
        },
    ]
    module.rollout = FixedRollout(module.tokenizer, ["THE ANSWER IS 21", "the answer is 5"])
    module.cfg.rlvr.samples_per_prompt = 2
    batch = module.generate(prompts)
    # gsm8k checks the number, ifeval the case: the same two texts score oppositely under the two verifiers.
    assert batch["correct"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert batch["scores"].tolist() == [10.0, 0.0, 0.0, 10.0]
    assert batch["verifiers"] == ["gsm8k", "gsm8k", "ifeval", "ifeval"]
    module.score_rollout(batch)
    metrics = module.rollout_metrics(batch)
    assert metrics["reward/gsm8k"] == 0.5 and metrics["reward/ifeval"] == 0.5


def test_demo_training_data_mixes_verifiers(module):
    from tulu_lightning.files import read_jsonl

    verifiers = {row["dataset"] for row in read_jsonl(DEMO_DATA / "rlvr_train.jsonl")}
    assert verifiers == {"gsm8k", "ifeval"}
    assert {row["dataset"] for row in read_jsonl(DEMO_DATA / "rlvr_val.jsonl")} == {"gsm8k"}


def test_trainer_logprobs_use_the_sampling_temperature(module):
    torch.manual_seed(1)
    completions = module.rollout.generate(
        [p["prompt_ids"] for p in module.prompts],
        SamplingParams(n=2, temperature=0.7, max_tokens=8),
    )
    batch = module.layout(
        [module.prompts[c.prompt_index]["prompt_ids"] for c in completions],
        [c.token_ids for c in completions],
    )
    trainer_logprobs = module.logprobs_of(module.model, batch)
    generator = torch.zeros_like(trainer_logprobs)
    for row, c in enumerate(completions):
        generator[row, : len(c.logprobs)] = torch.tensor(c.logprobs)
    mask = batch["response_mask"].bool()
    assert torch.allclose(trainer_logprobs[mask], generator[mask], atol=1e-4)
    with torch.no_grad():
        untempered = token_logprobs(response_logits(module.model, batch), batch["responses"], 1.0)
    assert (untempered[mask] - generator[mask]).abs().max() > 1e-2


def test_first_update_from_identical_policies_has_ratio_exactly_one(module):
    batch = module.generate(module.prompts)
    module.score_rollout(batch)
    batch["trained"][:] = True  # every row, including dropped GRPO groups
    chunk = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
    chunk["old_logprobs"] = module.logprobs_of(module.model, batch)
    chunk["loss_mask"] = batch["response_mask"]
    _, _, stats = module.policy_terms(chunk)
    assert float(stats["ratio_max_dev"]) == 0.0
    assert torch.equal(chunk["old_logprobs"], module.logprobs_of(module.ref_model, batch))  # the start
    assert float(stats["clip_frac"]) == 0.0


def test_reference_policy_is_frozen_and_not_optimized(module):
    trainable = {id(p) for m in module.trainable_modules() for p in m.parameters()}
    assert all(not p.requires_grad for p in module.ref_model.parameters())
    assert not trainable & {id(p) for p in module.ref_model.parameters()}


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="samples_per_prompt"):
        rlvr_config(tmp_path, "grpo", samples_per_prompt=1)
    with pytest.raises(ConfigError, match="temperature"):
        rlvr_config(tmp_path, "ppo", temperature=0.0)


@pytest.mark.parametrize("objective", ["grpo", "ppo"])
def test_fit_logs_rlvr_metrics_to_mlflow(tmp_path, objective):
    from mlflow import MlflowClient

    from tulu_lightning.train import fit

    cfg = rlvr_config(tmp_path, objective, update_epochs=2, num_minibatches=2, forward_batch_size=4)
    cfg.data.max_train_samples, cfg.trainer.max_epochs = 4, 1  # one rollout batch of 4 prompts × 4 samples
    cfg.eval.enabled, cfg.eval.max_prompts, cfg.eval.max_new_tokens = True, 4, 8
    result = fit(cfg)
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    metrics = client.get_run(result.run_id).data.metrics
    expected = ["correct_frac", "reward/gsm8k", "response_length", "rollout_seconds", "update_seconds"]
    expected += ["samples_per_sec", "optimizer_steps", "reward_seconds", "grad_norm"]
    assert metrics["train/optimizer_steps"] == 4  # 2 epochs × 2 minibatches, learning or not
    if objective == "ppo":
        expected += ["value_loss", "explained_variance", "entropy", "clip_frac", "loss", "kl"]
    else:  # a random policy is never right: every GRPO group has zero variance, nothing is scored or learned
        assert metrics["train/groups_kept_frac"] == 0 and metrics["train/grad_norm"] == 0
        assert "train/kl" not in metrics and "train/loss" not in metrics
    assert {f"train/{name}" for name in expected} <= set(metrics), sorted(metrics)
    accuracy_steps = [m.step for m in client.get_metric_history(result.run_id, "val/accuracy")]
    assert accuracy_steps[0] == 0  # the starting policy, before training
    assert (result.hf_dir / "config.json").exists()
