"""tulu_rewards.trl: the verifiers as TRL `reward_funcs`, called as GRPOTrainer calls them
(`reward_func(prompts=, completions=, completion_ids=, **columns, trainer_state=, log_extra=, log_metric=)`),
and two GRPO steps of TRL's own trainer on a tiny local model rewarded by them."""

from __future__ import annotations

import json

import pytest
from tulu_rewards import VerifierError, reward_function
from tulu_rewards.trl import make_reward_function

from tests.conftest import DEMO_DATA

LOWERCASE = json.dumps({"func_name": "validate_lowercase"})


def test_plain_completions_with_the_dataset_columns():
    rewards = reward_function(
        prompts=["What is 2+2?", "Write in lowercase."],
        completions=["2 + 2 = 4, so the answer is 4", "All Done"],
        completion_ids=[[1, 2], [3]],
        ground_truth=["4", LOWERCASE],
        dataset=["gsm8k", "ifeval"],
        trainer_state=object(),
    )
    assert rewards == [1.0, 0.0]


def test_conversational_completions():
    prompts = [
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 1/2 + 1/4?"}]
    ] * 2
    completions = [
        [{"role": "assistant", "content": "It is $\\boxed{\\frac{3}{4}}$."}],
        [{"role": "assistant", "content": [{"type": "text", "text": "\\boxed{0.7}"}]}],  # content parts
    ]
    rewards = reward_function(
        prompts=prompts, completions=completions, ground_truth=["3/4"] * 2, dataset="MATH"
    )
    assert rewards == [1.0, 0.0]


def test_an_answer_copied_from_the_prompt_is_not_credited():
    prompt = [{"role": "user", "content": "Is it \\boxed{42}? Answer in a box."}]
    copied = [{"role": "assistant", "content": "You asked: Is it \\boxed{42}? Answer in a box."}]
    assert reward_function(prompts=[prompt], completions=[copied], ground_truth=["42"], dataset=["math"]) == [
        0.0
    ]


def test_status_logging_through_trl_hooks():
    extra, metrics = {}, {}
    reward = make_reward_function("gsm8k", ground_truth_column="answer", name="gsm8k_correct")
    rewards = reward(
        prompts=None,
        completions=["#### 3", "no idea", "#### 4"],
        answer=["3", "3", ""],
        log_extra=lambda column, values: extra.__setitem__(column, values),
        log_metric=lambda name, value: metrics.__setitem__(name, value),
    )
    assert rewards == [1.0, 0.0, 0.0] and reward.__name__ == "gsm8k_correct"
    assert extra == {"gsm8k_correct_status": ["correct", "unparseable", "error"]}
    assert metrics == {
        "gsm8k_correct/unparseable": 1 / 3,
        "gsm8k_correct/timeout": 0.0,
        "gsm8k_correct/error": 1 / 3,
    }


def test_missing_columns_and_unknown_names_fail_before_training():
    with pytest.raises(VerifierError, match="needs a `ground_truth` column"):
        reward_function(prompts=["q"], completions=["a"], dataset=["gsm8k"])
    with pytest.raises(VerifierError, match="needs a `dataset` column"):
        reward_function(prompts=["q"], completions=["a"], ground_truth=["1"])
    with pytest.raises(VerifierError, match='unknown verifier "gsm9k"'):
        make_reward_function("gsm9k")


def rlvr_rows(conversational: bool) -> list[dict]:
    """The demo RLVR prompts (GSM8K) and lowercase-constraint rows, so a group's rewards differ and GRPO has
    an advantage to learn from even on an untrained model."""
    rows = []
    with (DEMO_DATA / "rlvr_train.jsonl").open() as f:
        for line, number in zip(f, range(4)):
            row = json.loads(line)
            rows.append({"prompt": row["messages"][-1]["content"], "ground_truth": row["ground_truth"], "dataset": "gsm8k"})  # fmt: skip
            rows.append({"prompt": f"Answer in lowercase letters only, question {number}.", "ground_truth": LOWERCASE, "dataset": "ifeval"})  # fmt: skip
    if conversational:
        for row in rows:
            row["prompt"] = [{"role": "user", "content": row["prompt"]}]
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("conversational", [False, True], ids=["plain", "conversational"])
def test_grpo_trainer_trains_two_steps_with_our_reward(tmp_path, conversational):
    trl = pytest.importorskip("trl")
    import torch
    from datasets import Dataset

    from tulu_lightning.config import TinyModelConfig
    from tulu_lightning.models import build_tiny_model, train_tiny_tokenizer

    rows = rlvr_rows(conversational)
    texts = [json.dumps(row) for row in rows] + ["all lower case words", "The Answer Is 21"]
    tokenizer = train_tiny_tokenizer(texts, vocab_size=320)
    tiny = TinyModelConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           num_key_value_heads=2, max_position_embeddings=256)  # fmt: skip
    model = build_tiny_model(tiny, tokenizer, seed=0)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}

    calls = []

    def reward(**kwargs):  # our reward_function, recording what TRL hands it
        calls.append(kwargs)
        return reward_function(**kwargs)

    args = trl.GRPOConfig(
        output_dir=str(tmp_path / "grpo"),
        max_steps=2,
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=8,
        learning_rate=1e-2,
        temperature=1.5,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        seed=0,
        dataloader_num_workers=0,
    )
    trainer = trl.GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    torch.manual_seed(0)
    trainer.train()

    assert trainer.state.global_step == 2 and len(calls) >= 2
    assert {name for call in calls for name in call["dataset"]} == {
        "gsm8k",
        "ifeval",
    }  # columns passed through
    call = calls[0]
    assert (
        len(call["ground_truth"]) == len(call["dataset"]) == len(call["completions"]) == len(call["prompts"])
    )
    assert isinstance(call["completions"][0], list if conversational else str)
    logged = [entry for entry in trainer.state.log_history if "rewards/reward/mean" in entry]
    assert len(logged) == 2 and all(0.0 <= entry["rewards/reward/mean"] <= 1.0 for entry in logged)
    assert any(entry["rewards/reward/std"] > 0 for entry in logged), "no group had rewards to learn from"
    changed = [name for name, p in model.named_parameters() if not torch.equal(p.detach(), before[name])]
    assert changed, "two GRPO steps with our reward changed no parameter"
