"""The `tulu_lightning.rewards` facade, the `verify` command and the hard-to-game rules."""

from __future__ import annotations

import argparse
import json
import os
import time

import pytest

from tulu_lightning import rewards
from tulu_lightning.cli import COMMANDS, CLIError, command_module
from tulu_lightning.cli import verify as verify_cli
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


def test_one_verifier_name_as_a_str_serves_every_row() -> None:
    """`verify_batch("math", ...)` must not read the str as the verifiers "m", "a", "t", "h"."""
    verdicts = verify_batch(
        "math", ["\\boxed{2}", "\\boxed{3}", "\\boxed{4}", "x", "\\boxed{5}"], ["2", "2", "4", "1", "5"]
    )
    assert [v.status for v in verdicts] == ["correct", "wrong", "correct", "unparseable", "correct"]


def test_misuse_raises_and_names_the_row() -> None:
    with pytest.raises(VerifierError) as err:
        verify_batch(["gsm8k", "no_such_verifier"], ["1", "2"], ["1", "2"])
    assert err.value.row == 1 and "no_such_verifier" in str(err.value) and "gsm8k" in str(err.value)
    with pytest.raises(VerifierError) as err:
        verify("gsm8k", ["1"], ["1", "2"])
    assert err.value.row == 0
    with pytest.raises(ValueError):
        verify("gsm8k", ["1"], ["1"], mode="lenient")  # type: ignore[arg-type]


def test_a_bad_row_never_fails_its_batch() -> None:
    verdicts = verify_batch(
        ["ifeval", "ifeval", "math", "string_f1", "gsm8k"],
        ["all lower case here", "x", "\\boxed{1}", "y", "so 4"],
        ['{"func_name": "validate_lowercase"}', "{not json", "  ", "[]", "4"],
    )
    assert statuses(verdicts) == ["correct", "error", "error", "error", "correct"]
    assert all(v.score == 0.0 and v.error for v in verdicts[1:4])
    assert "neither JSON" in verdicts[1].error and "empty" in verdicts[2].error
    assert verdicts[0].error is None and verdicts[0].correct


def test_verifier_names_are_case_insensitive() -> None:
    assert rewards.canonical_verifier(" MATH ") == "math"
    assert rewards.canonical_verifier("IFEval") == "ifeval"
    assert rewards.canonical_verifier("ifeval_old") == "ifeval"
    assert rewards.canonical_verifier("String_Matcher") == "exact_match"
    assert set(rewards.ALIASES.values()) <= set(rewards.VERIFIERS)
    with pytest.raises(VerifierError, match="known: gsm8k") as err:
        rewards.canonical_verifier("maths")
    assert err.value.row is None
    verdicts = verify_batch(
        ["GSM8K", "Math", "IFEVAL"],
        ["so 3", "\\boxed{3}", "all lower case here"],
        ["3", "3", '{"func_name": "validate_lowercase"}'],
    )
    assert statuses(verdicts) == ["correct"] * 3


def test_ground_truth_errors() -> None:
    rows = [
        ("gsm8k", "18"),
        ("MATH", "\\frac{1}{2}"),
        ("ifeval", "[{'instruction_id': ['punctuation:no_comma'], 'kwargs': [None]}]"),
        ("ifeval", {"func_name": "validate_lowercase", "N": None}),
        ("ifeval", '{"instruction_id_list": [], "kwargs": []}'),
        ("string_f1", ["Paris", "paris, France"]),
        ("math", ""),
        ("gsm8k", None),
        ("ifeval", "{'instruction_id': ['nope:x'], 'kwargs': [{}]}"),
        ("ifeval", '{"instruction_id_list": ["keywords:frequency"], "kwargs": [{"keyword": "a"}]}'),
        ("ifeval", "not a constraint"),
        ("exact_match", "[]"),
        ("no_such_verifier", "1"),
    ]
    errors = rewards.ground_truth_errors([v for v, _ in rows], [g for _, g in rows])
    assert errors[:6] == [None] * 6
    assert all(isinstance(e, str) and "\n" not in e for e in errors[6:]), errors
    assert "nope:x" in errors[8] and "frequency" in errors[9] and "no_such_verifier" in errors[12]
    assert rewards.ground_truth_errors(["gsm8k"], ["1", "", "2"]) == [None, "ground truth is empty", None]
    # one name as a str serves every row (not one verifier per character)
    assert rewards.ground_truth_errors("gsm8k", ["1", "", "2"]) == [None, "ground truth is empty", None]
    with pytest.raises(VerifierError):
        rewards.ground_truth_errors(["gsm8k", "math"], ["1", "2", "3"])
    # The same rows, verified: exactly the rows with a ground-truth error get status "error".
    verdicts = verify_batch(
        [v if v != "no_such_verifier" else "gsm8k" for v, _ in rows], ["x"] * len(rows), [g for _, g in rows]
    )
    assert [v.status == "error" for v in verdicts[:12]] == [e is not None for e in errors[:12]]


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
    assert "verify" in COMMANDS and command_module("verify") == "tulu_lightning.cli.verify"
    parser = argparse.ArgumentParser()
    verify_cli.configure_parser(parser)
    assert verify_cli.run(parser.parse_args(["--verifier", "math", "--input", str(preds)])) == 0
    out = capsys.readouterr().out
    assert "accuracy: 0.3333" in out and "unparseable" in out
    written = [json.loads(line) for line in (tmp_path / "preds.verdicts.jsonl").read_text().splitlines()]
    assert [w["status"] for w in written] == ["correct", "wrong", "unparseable"]
    lines.append({"response": "\\boxed{3}", "ground_truth": ""})
    preds.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    again = ["--input", str(preds), "--overwrite"]  # the earlier verdicts are replaced only when asked
    assert verify_cli.run(parser.parse_args(["--verifier", "MATH", *again])) == 0
    out = capsys.readouterr().out
    assert "error" in out and f"{preds}:4: ground truth is empty" in out
    written = [json.loads(line) for line in (tmp_path / "preds.verdicts.jsonl").read_text().splitlines()]
    assert written[3] == {
        "score": 0.0,
        "status": "error",
        "extracted": None,
        "error": "ground truth is empty",
    }
    with pytest.raises(CLIError, match=r"^unknown verifier"):
        verify_cli.run(parser.parse_args(["--verifier", "nope", *again]))
    with pytest.raises(CLIError, match="dataset"):  # no --verifier and no "dataset" field
        verify_cli.run(parser.parse_args(again))
    preds.write_text(json.dumps({"response": "1", "ground_truth": "1", "dataset": "nope"}) + "\n")
    with pytest.raises(CLIError, match=r"preds\.jsonl:1: unknown verifier"):
        verify_cli.run(parser.parse_args(again))


def test_lone_surrogates_do_not_fail_the_batch() -> None:
    lone = json.loads('"\\ud800 so 7"')  # valid JSON, but no UTF-8 form
    verdicts = verify_batch(["gsm8k", "exact_match"], [lone, "x"], ["7", json.loads('"\\udfff"')])
    assert statuses(verdicts) == ["correct", "wrong"]
    assert rewards.ground_truth_errors(["exact_match"], [lone]) == [None]
