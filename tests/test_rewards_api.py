"""The `tulu_lightning.rewards` facade, the `verify` command and the hard-to-game rules."""

from __future__ import annotations

import argparse
import json
import os
import time

import pytest

from tulu_lightning import rewards, verify_cli
from tulu_lightning.cli import COMMANDS, CLIError
from tulu_lightning.rewards import Verdict, VerifierError, reward_function, verify, verify_batch


def statuses(verdicts: list[Verdict]) -> list[str]:
    return [v.status for v in verdicts]


def test_registry_names() -> None:
    assert {"gsm8k", "math", "strict_math", "ifeval", "string_f1", "exact_match"} <= set(rewards.VERIFIERS)


def test_gsm8k_is_numeric() -> None:
    verdicts = verify("gsm8k", ["so 18.0", "$1,000.", "it is 17", "no idea"], ["18", "1000", "18", "4"])
    assert statuses(verdicts) == ["correct", "correct", "wrong", "unparseable"]
    assert verdicts[0].score == 1.0 and verdicts[2].score == 0.0
    assert verdicts[1].extracted == "1000"


def test_math_modes() -> None:
    response = "so the value is $\\frac{1}{2}$"
    assert verify("math", [response], ["0.5"])[0].status == "unparseable"
    assert verify("math", [response], ["0.5"], mode="flex")[0].status == "correct"
    minerva = "Final Answer: The final answer is $\\dfrac12$. I hope it is correct."
    assert verify("strict_math", [minerva, "\\boxed{1/2}"], ["1/2", "1/2"])[0].status == "correct"
    assert verify("strict_math", ["\\boxed{1/2}"], ["1/2"])[0].status == "unparseable"


def test_mixed_batch_keeps_order() -> None:
    ifeval_truth = json.dumps({"func_name": "validate_lowercase"})
    verdicts = verify_batch(
        ["gsm8k", "math", "ifeval", "exact_match"],
        ["answer: 7", "\\boxed{(1,2)}", "all lower case here", "Paris"],
        ["7", "(1, 2)", ifeval_truth, "paris"],
    )
    assert statuses(verdicts) == ["correct"] * 4


def test_errors_name_the_row() -> None:
    with pytest.raises(VerifierError) as err:
        verify_batch(["gsm8k", "no_such_verifier"], ["1", "2"], ["1", "2"])
    assert err.value.row == 1
    with pytest.raises(VerifierError) as err:
        verify("ifeval", ["x", "y"], ['{"func_name": "validate_lowercase"}', "{not json"])
    assert err.value.row == 1
    with pytest.raises(VerifierError):
        verify("gsm8k", ["1"], ["1", "2"])
    with pytest.raises(ValueError):
        verify("gsm8k", ["1"], ["1"], mode="lenient")  # type: ignore[arg-type]


def test_several_boxed_answers_score_zero() -> None:
    verdicts = verify("math", ["\\boxed{4} or \\boxed{5}", "\\boxed{5} so \\boxed{5.0}"], ["5", "5"])
    assert statuses(verdicts) == ["wrong", "correct"]


def test_answer_copied_from_prompt_is_not_credited() -> None:
    prompt = "What is 40 + 2? Put the answer in \\boxed{42} form."
    response = "Restating: What is 40 + 2? Put the answer in \\boxed{42} form.\nI am not sure."
    assert verify("math", [response], ["42"])[0].status == "correct"
    assert verify("math", [response], ["42"], prompts=[prompt])[0].status == "unparseable"


def test_length_cap_and_timeout() -> None:
    long = "x" * 1000 + " \\boxed{1}"
    assert verify("math", [long], ["1"], max_response_bytes=500)[0].status == "unparseable"
    bomb = "\\boxed{" + "(" * 50_000 + "1" + ")" * 50_000 + "}"
    start = time.perf_counter()
    verdict = verify("math", [bomb], ["1"], timeout_s=0.5)[0]
    assert time.perf_counter() - start < 5
    assert verdict.status in {"wrong", "unparseable", "timeout"}


def test_ifeval_partial_and_loose() -> None:
    truth = json.dumps(
        {"instruction_id_list": ["punctuation:no_comma", "startend:quotation"], "kwargs": [{}, {}]}
    )
    assert verify("ifeval", ["no commas"], [truth])[0].score == 0.0
    assert verify("ifeval", ["no commas"], [truth], partial=True)[0].score == 0.5
    response = 'Here you go:\n"no commas at all"'
    assert verify("ifeval", [response], [truth])[0].status == "wrong"
    assert verify("ifeval", [response], [truth], mode="loose")[0].status == "correct"


def test_trl_reward_function() -> None:
    scores = reward_function(
        prompts=["q1", [{"role": "user", "content": "q2"}]],
        completions=["the answer is 3", [{"role": "assistant", "content": "\\boxed{4}"}]],
        ground_truth=["3", "5"],
        dataset=["gsm8k", "math"],
    )
    assert scores == [1.0, 0.0]


def test_verify_in_forked_child() -> None:
    verify("gsm8k", ["1"] * 64, ["1"] * 64)  # builds the pool in the parent
    pid = os.fork()
    if pid == 0:
        ok = all(v.correct for v in verify("gsm8k", ["so 2"] * 64, ["2"] * 64))
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


def test_verify_command(tmp_path, capsys) -> None:
    preds = tmp_path / "preds.jsonl"
    lines = [
        {"response": "\\boxed{3}", "ground_truth": "3"},
        {"response": "\\boxed{4}", "ground_truth": "3"},
        {"response": "nothing", "ground_truth": "3"},
    ]
    preds.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert COMMANDS["verify"][0] == "tulu_lightning.verify_cli"
    parser = argparse.ArgumentParser()
    verify_cli.configure_parser(parser)
    assert verify_cli.run(parser.parse_args(["--verifier", "math", "--input", str(preds)])) == 0
    out = capsys.readouterr().out
    assert "accuracy: 0.3333" in out and "unparseable" in out
    written = [json.loads(line) for line in (tmp_path / "preds.verdicts.jsonl").read_text().splitlines()]
    assert [w["status"] for w in written] == ["correct", "wrong", "unparseable"]
    with pytest.raises(CLIError, match="dataset"):  # no --verifier and no "dataset" field
        verify_cli.run(parser.parse_args(["--input", str(preds)]))
