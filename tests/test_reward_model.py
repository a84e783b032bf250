"""Reward model: the Bradley–Terry loss equals −log σ(r_c − r_r) with each reward read at its sequence's last
token; the export loads as a Hugging Face sequence classifier and, as PPO's value model, scores a rollout's
final state exactly as the reward model scores the conversation."""

from __future__ import annotations

import math

import pytest
import torch
from mlflow import MlflowClient
from transformers import AutoModelForSequenceClassification

from tests.conftest import tiny_preference_config, write_config
from tulu_lightning.chat import prompt_ids, tokenize_chat
from tulu_lightning.objectives.reward_model import build, sequence_rewards
from tulu_lightning.objectives.rlvr import head_outputs, load_scalar_model, position_ids
from tulu_lightning.train import fit, load_run_config


def tiny_rm_config(tmp_path, **sections) -> dict:
    return tiny_preference_config(tmp_path, "reward_model", **sections)


def reward_alone(model, input_ids: list[int]) -> float:
    """The scalar head at the last token of one unpadded sequence, by hand."""
    hidden = model.model(input_ids=torch.tensor([input_ids])).last_hidden_state
    return float(model.score(hidden[0, -1]))


def test_loss_equals_bradley_terry_on_rewards_read_at_the_last_token(tmp_path):
    cfg = load_run_config(str(write_config(tmp_path, tiny_rm_config(tmp_path))))
    module, datamodule = build(cfg)
    datamodule.setup()
    items = datamodule.train_items[:4]
    model = module.model.eval()
    torch.nn.init.normal_(model.score.weight, std=1.0)  # rewards far from 0, so a wrong position would show
    with torch.no_grad():
        loss, stats = module.pair_statistics(datamodule.collate(items))
        for i, item in enumerate(items):
            chosen = reward_alone(model, item["chosen"]["input_ids"])
            rejected = reward_alone(model, item["rejected"]["input_ids"])
            assert float(loss[i]) == pytest.approx(-math.log(1 / (1 + math.exp(rejected - chosen))), rel=1e-4)
    assert (
        len({len(i["chosen"]["input_ids"]) for i in items} | {len(i["rejected"]["input_ids"]) for i in items})
        > 1
    )
    assert float(stats["accuracy"]) == sum(
        reward_alone(model, i["chosen"]["input_ids"]) > reward_alone(model, i["rejected"]["input_ids"])
        for i in items
    )


def test_export_is_a_sequence_classifier_and_initialises_the_ppo_value_model(tmp_path):
    result = fit(load_run_config(str(write_config(tmp_path, tiny_rm_config(tmp_path)))))
    run = MlflowClient(tracking_uri=result.module.cfg.tracking.uri).get_run(result.run_id)
    assert {"train/loss", "train/accuracy", "val/accuracy", "val/rewards/margin"} <= set(run.data.metrics)

    trained = result.module.model.eval()
    exported = AutoModelForSequenceClassification.from_pretrained(result.hf_dir).eval()
    tokenizer = result.module.tokenizer
    datamodule = result.module.trainer.datamodule
    batch = datamodule.collate(datamodule.val_items[:3])
    with torch.no_grad():
        torch.testing.assert_close(sequence_rewards(exported, batch), sequence_rewards(trained, batch))

    # PPO's value model from this directory: V after the last response token of a left-padded rollout equals
    # the reward model's score of the same conversation.
    value_model = load_scalar_model(str(result.hf_dir), policy=None).eval()
    rows = [datamodule.val_rows[i]["chosen"] for i in range(2)]
    prompts = [prompt_ids(tokenizer, messages[:1]) for messages in rows]
    full = [tokenize_chat(tokenizer, messages).input_ids for messages in rows]
    responses = [ids[len(p) :] for ids, p in zip(full, prompts)]
    assert all(ids[: len(p)] == p for ids, p in zip(full, prompts))
    width, length = max(map(len, prompts)), max(map(len, responses))
    input_ids = torch.full((2, width + length), tokenizer.pad_token_id)
    mask = torch.zeros_like(input_ids)
    for row, (p, r) in enumerate(zip(prompts, responses)):
        input_ids[row, width - len(p) : width + len(r)] = torch.tensor(p + r)
        mask[row, width - len(p) : width + len(r)] = 1
    layout = {"input_ids": input_ids, "attention_mask": mask, "responses": input_ids[:, width:]}
    with torch.no_grad():
        values = head_outputs(value_model, layout)
    assert position_ids(mask)[0, width - len(prompts[0])] == 0
    for row, r in enumerate(responses):
        assert float(values[row, len(r)]) == pytest.approx(
            reward_alone(trained, full[row]), rel=1e-4, abs=1e-5
        )
