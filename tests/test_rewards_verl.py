"""tulu_rewards.verl: the verifiers as verl's custom reward function, called as verl's reward managers call
it (`naive`: one row with keyword arguments; `batch`: NumPy object arrays from `DataProto.non_tensor_batch`
plus `custom_reward_function.reward_kwargs`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tulu_rewards import VerifierError
from tulu_rewards.verl import VERL_DATA_SOURCES, compute_score, compute_score_batch, verifier_for

LOWERCASE = json.dumps({"func_name": "validate_lowercase"})


def test_naive_manager_call_per_row():
    # verl/workers/reward_manager/naive.py: compute_score(data_source=, solution_str=, ground_truth=, extra_info=)
    result = compute_score(
        data_source="openai/gsm8k",
        solution_str="She has 3 + 15 = 18 apples.\n#### 18",
        ground_truth="18",
        extra_info={"split": "train", "index": 0},
    )
    assert result == {"score": 1.0, "acc": True, "pred": "18", "status": "correct", "error": ""}
    wrong = compute_score("lighteval/MATH", "so $\\boxed{\\frac{1}{3}}$", "\\frac12")
    assert (wrong["score"], wrong["acc"], wrong["pred"], wrong["status"]) == (
        0.0,
        False,
        "\\frac{1}{3}",
        "wrong",
    )


def test_batch_manager_call_with_numpy_columns_and_reward_kwargs():
    # verl/workers/reward_manager/batch.py passes non_tensor_batch columns (object arrays) and reward_kwargs.
    results = compute_score_batch(
        data_sources=np.array(["openai/gsm8k", "aime2024", "ifeval", "MATH", "my_data"], dtype=object),
        solution_strs=["#### 18", "\\boxed{7}", "all lower case", "\\boxed{2}", "the answer is 5"],
        ground_truths=np.array(["18", "7", LOWERCASE, "3", "5"], dtype=object),
        extra_infos=np.array([{"index": 0}, None, {}, {"index": 3}, {"verifier": "gsm8k"}], dtype=object),
        mode="strict",  # custom_reward_function.reward_kwargs
        unknown_future_kwarg=1,  # what verl may add is ignored
    )
    assert [r["status"] for r in results] == ["correct", "correct", "correct", "wrong", "correct"]
    assert [r["score"] for r in results] == [1.0, 1.0, 1.0, 0.0, 1.0]
    # verl logs every key of the dicts as a per-row array: the same keys, types that stack, on every row
    assert {tuple(r) for r in results} == {("score", "acc", "pred", "status", "error")}
    assert compute_score_batch(None, ["#### 4"], ["4"], verifier="gsm8k")[0]["acc"] is True
    dapo = compute_score_batch(
        ["math_dapo"] * 2, ["so... Answer: 42", "Answer: 41"], ["42", "42"], mode="flex"
    )
    assert [r["status"] for r in dapo] == ["correct", "wrong"]


def test_a_row_that_cannot_be_verified_is_scored_zero_with_its_reason():
    results = compute_score_batch(["MATH", "gsm8k"], ["\\boxed{1}", "#### 2"], ["", "2"])
    assert results[0] == {
        "score": 0.0,
        "acc": False,
        "pred": "",
        "status": "error",
        "error": "ground truth is empty",
    }
    assert results[1]["status"] == "correct"


def test_the_prompt_in_extra_info_keeps_an_answer_copied_from_it_from_counting():
    question = "What is 40 + 2? Put the answer in \\boxed{42} form."
    restated = f"Restating: {question}\nI am not sure."
    assert compute_score("MATH", restated, "42")["status"] == "correct"
    for key in ("question", "prompt"):  # verl's example preprocessing stores `question`
        assert compute_score("MATH", restated, "42", {key: question})["status"] == "unparseable"


def test_verifier_routing():
    assert verifier_for("openai/gsm8k") == "gsm8k"
    assert verifier_for("aime2025") == "math"
    assert verifier_for("ifeval_old") == "ifeval"
    assert verifier_for("openai/gsm8k", {"verifier": "MATH"}) == "math"  # extra_info names it
    assert verifier_for("openai/gsm8k", {"verifier": "gsm8k"}, verifier="strict_math") == "strict_math"
    assert set(VERL_DATA_SOURCES.values()) <= {"gsm8k", "math"}


def test_an_unknown_data_source_is_a_one_line_error_naming_the_fix():
    with pytest.raises(
        VerifierError, match=r"^no verifier for data_source 'my_source': name one with"
    ) as err:
        compute_score("my_source", "x", "1")
    assert "\n" not in str(err.value) and err.value.row is None
    with pytest.raises(VerifierError) as err:
        compute_score_batch(["gsm8k", "my_source"], ["1", "2"], ["1", "2"])
    assert err.value.row == 1
    with pytest.raises(VerifierError, match="2 solution_strs but 1 data_sources"):
        compute_score_batch(["gsm8k"], ["1", "2"], ["1", "2"])
