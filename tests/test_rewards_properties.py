"""Random and adversarial inputs: only `VerifierError` may escape, and every call stays within its bound."""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tulu_lightning.rewards import VERIFIERS, VerifierError, verify, verify_batch

LATEX_PIECES = [
    "\\boxed{",
    "\\fbox{",
    "\\frac{",
    "\\sqrt[",
    "}",
    "{",
    "(",
    ")",
    "[",
    "]",
    "^",
    "_",
    "\\",
    "$",
    ",",
    "=",
    "\\infty",
    "\\cup",
    "\\pi",
    "x",
    "1",
    "0",
    ".",
    "-",
    "\\begin{pmatrix}",
    "&",
    "\\\\",
    "!",
    "i",
]
latex_soup = st.lists(st.sampled_from(LATEX_PIECES), max_size=60).map("".join)
any_text = st.one_of(st.text(max_size=300), latex_soup)
STATUSES = {"correct", "wrong", "unparseable", "timeout", "error"}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(verdicts) -> None:
    for v in verdicts:
        assert 0.0 <= v.score <= 1.0 and v.status in STATUSES
        assert (v.status == "error") == (v.error is not None)
        assert v.status != "error" or v.score == 0.0


@FAST
@given(
    response=any_text,
    gold=any_text,
    verifier=st.sampled_from(["gsm8k", "math", "strict_math", "string_f1", "exact_match"]),
)
def test_text_verifiers_never_raise(response: str, gold: str, verifier: str) -> None:
    check(verify(verifier, [response], [gold], mode="flex"))


@FAST
@given(response=st.text(max_size=300), ground_truth=st.text(max_size=100))
def test_ifeval_raises_only_verifier_error(response: str, ground_truth: str) -> None:
    with contextlib.suppress(VerifierError):
        check(verify("ifeval", [response], [ground_truth], mode="loose"))


IDS = [
    "keywords:existence",
    "keywords:frequency",
    "detectable_format:multiple_sections",
    "startend:end_checker",
    "keywords:forbidden_words",
    "detectable_content:postscript",
    "combination:repeat_prompt",
]


@FAST
@given(response=st.text(max_size=200), instruction=st.sampled_from(IDS), arg=st.text(max_size=20))
def test_ifeval_with_hostile_kwargs(response: str, instruction: str, arg: str) -> None:
    kwargs = {
        "keywords": [arg],
        "keyword": arg,
        "frequency": 1,
        "relation": "at least",
        "section_spliter": arg,
        "num_sections": 1,
        "end_phrase": arg,
        "forbidden_words": [arg],
        "postscript_marker": arg,
        "prompt_to_repeat": arg,
    }
    truth = json.dumps({"instruction_id_list": [instruction], "kwargs": [kwargs]})
    with contextlib.suppress(VerifierError):
        check(verify("ifeval", [response], [truth]))


IFBENCH_IDS = sorted(
    json.loads(line)["id"]
    for line in (Path(__file__).parent / "data" / "rewards" / "ifbench_corpus.jsonl").open(encoding="utf-8")
)
IFBENCH_KWARGS = st.fixed_dictionaries(
    {},
    optional={
        key: st.one_of(st.integers(-5, 60), st.text(max_size=12))
        for key in [
            "N", "small_n", "min_words", "max_words", "percentage", "n", "m", "n_start", "n_end",
            "word", "keyword", "keyword1", "keyword2", "keyword3", "keyword4", "keyword5",
            "options", "sep", "reference_text", "prompt_to_repeat",
        ]
    },
)  # fmt: skip


@FAST
@given(
    response=st.one_of(
        st.text(max_size=300), st.text(alphabet="\n\r*-\"'([{}]).,?!‽ 日😀é0,\t", max_size=120)
    ),
    instruction=st.sampled_from(sorted(set(IFBENCH_IDS))),
    kwargs=IFBENCH_KWARGS,
    mode=st.sampled_from(["strict", "loose"]),
)
def test_ifbench_with_hostile_inputs(response: str, instruction: str, kwargs: dict, mode: str) -> None:
    truth = json.dumps({"instruction_id_list": [instruction], "kwargs": [kwargs]})
    with contextlib.suppress(VerifierError):  # a missing or ill-typed kwarg, never a panic
        verdicts = verify("ifbench", [response], [truth], mode=mode)
        check(verdicts)
        return
    with pytest.raises(VerifierError, match=re.escape(instruction)):
        verify("ifbench", [response], [truth], mode=mode)


def test_pathological_inputs_are_bounded() -> None:
    megabyte = "9" * 1_000_000
    cases = [
        ("math", "\\boxed{" + "\\frac{" * 20_000 + "1" + "}{2}" * 20_000 + "}", "1"),
        ("math", "\\boxed{" + "{" * 100_000, "1"),
        ("math", "\\boxed{2^{2^{2^{2^{2^{2^{2^{2^{99}}}}}}}}}", "1"),
        ("math", "\\boxed{" + "+".join(["x"] * 3000) + "}", "3000x"),
        ("math", megabyte, "1"),
        ("gsm8k", megabyte, "1"),
        ("math", "\\boxed{" + "(" * 5000 + "1" + ")" * 5000 + "}", "1"),
        (
            "ifbench",
            "Abc. " * 200_000,
            json.dumps({"instruction_id_list": ["sentence:alliteration_increment"], "kwargs": [{}]}),
        ),
        (
            "ifbench",
            "(" * 300_000 + "\"'" * 300_000,
            json.dumps({"instruction_id_list": ["format:parentheses", "format:quotes"], "kwargs": [{}, {}]}),
        ),
        (
            "ifeval",
            "a " * 400_000,
            json.dumps({"func_name": "verify_sentence_constraint", "N": 3, "quantifier": "at most"}),
        ),
    ]
    for verifier, response, gold in cases:
        start = time.perf_counter()
        check(verify(verifier, [response], [gold], timeout_s=1.0, max_response_bytes=2_000_000))
        assert time.perf_counter() - start < 10, verifier


def test_every_registered_verifier_runs() -> None:
    truths = {
        "ifeval": json.dumps({"func_name": "validate_no_commas"}),
        "ifbench": json.dumps({"func_name": "validate_no_commas"}),
    }
    for name in VERIFIERS:
        check(verify_batch([name], ["\\boxed{1}"], [truths.get(name, "1")]))
