"""Random and adversarial inputs: no row's content makes `verify_batch` raise (a row that cannot be
verified is an `error` row), only misuse of the API raises `VerifierError`, and every call stays within
its bound. Text is drawn from all of Unicode (lone surrogates included), ground truths from random JSON,
random Python literals and hostile structure."""

from __future__ import annotations

import json
import time
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tulu_lightning.rewards import ALIASES, VERIFIERS, ground_truth_errors, verify, verify_batch

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
IF_PIECES = ["\n", "\n\n", "*", "**", "* * *", "***", "******", '"', "<<", ">>", "[x]", "P.S.", "Section 1",
             "</think>", "<think>", "<answer>", "</answer>", ",", "!", "?", "e.g.", "é", "İ", "😀", "\u0301"]  # fmt: skip
if_soup = st.lists(st.sampled_from(IF_PIECES) | st.text(max_size=5), max_size=40).map("".join)
# Every code point, lone surrogates included (they cannot cross into Rust; the facade replaces them).
unicode_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=300)
long_text = st.builds(lambda piece, n: piece * n, st.text(max_size=8), st.integers(0, 20_000))
any_text = st.one_of(unicode_text, latex_soup, if_soup, long_text)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | unicode_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(unicode_text, inner, max_size=4),
    max_leaves=12,
)
python_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | unicode_text,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4)
    ),
    max_leaves=12,
)
hostile_structure = st.sampled_from(
    ["[" * 10_000, "{'a': " * 5_000, "(" * 3_000 + ")" * 3_000, '"' * 999, "\\" * 999, "[" * 127 + "]" * 127,
     "{'instruction_id': ['punctuation:no_comma'] * 9, 'kwargs': [None]}", '{"func_name": null}', "[[]]", "1e999"]
)  # fmt: skip
structured_ground_truth = st.one_of(
    json_values.map(json.dumps),
    python_values.map(repr),
    hostile_structure,
    st.fixed_dictionaries({"func_name": st.sampled_from(["validate_choice", "verify_keywords", "nope"])}, optional={
        "N": json_values, "options": json_values, "keyword_list": json_values, "quantifier": unicode_text,
    }).map(json.dumps),
    st.fixed_dictionaries({"instruction_id": st.lists(unicode_text | st.just("keywords:frequency"), max_size=3),
                           "kwargs": st.lists(json_values, max_size=3)}).map(lambda d: repr([d])),
)  # fmt: skip
any_ground_truth = st.one_of(any_text, structured_ground_truth)
NAMES = [*VERIFIERS, *ALIASES, "MATH", " IFEval ", "String_F1"]
STATUSES = {"correct", "wrong", "unparseable", "timeout", "error"}
# The math verifiers belong to another module; a panic there is caught as that row's error.
PANIC_TOLERATED = {"math", "strict_math"}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(verdicts) -> None:
    for v in verdicts:
        assert 0.0 <= v.score <= 1.0 and v.status in STATUSES
        assert (v.status == "error") == (v.error is not None)
        assert v.status != "error" or v.score == 0.0


@FAST
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(NAMES), any_text, any_ground_truth, st.none() | any_text), max_size=6
    ),
    mode=st.sampled_from(["strict", "loose", "flex"]),
    partial=st.booleans(),
)
# found by this test: an over-long response with an empty ground truth was "unparseable", not the row's error
@example(rows=[("gsm8k", "0" * 200_001, "", None)], mode="strict", partial=False)
def test_no_row_content_makes_verify_batch_raise(rows: list, mode: str, partial: bool) -> None:
    names, responses, truths, prompts = (
        (list(column) for column in zip(*rows, strict=True)) if rows else ([], [], [], [])
    )
    verdicts = verify_batch(names, responses, truths, prompts, mode=mode, partial=partial, timeout_s=1.0)
    assert len(verdicts) == len(rows)
    check(verdicts)
    for name, verdict in zip(names, verdicts, strict=True):
        if verdict.status == "error" and "panic" in verdict.error:
            assert name.strip().lower() in PANIC_TOLERATED, (name, verdict)
    # Load-time validation agrees: a ground truth it rejects is an error row at verification.
    for error, verdict in zip(ground_truth_errors(names, truths), verdicts, strict=True):
        assert error is None or verdict.status == "error", (error, verdict)


@FAST
@given(good=st.lists(st.integers(0, 99), min_size=1, max_size=4), bad=any_ground_truth, response=any_text)
def test_a_bad_row_leaves_the_others_alone(good: list[int], bad: str, response: str) -> None:
    names = ["gsm8k"] * len(good) + ["ifeval", "string_f1", "math"]
    responses = [f"so {n}" for n in good] + [response] * 3
    verdicts = verify_batch(names, responses, [str(n) for n in good] + [bad] * 3)
    assert [v.status for v in verdicts[: len(good)]] == ["correct"] * len(good)
    check(verdicts)


@FAST
@given(
    response=any_text,
    gold=any_text,
    verifier=st.sampled_from(["gsm8k", "math", "strict_math", "string_f1", "exact_match"]),
)
def test_text_verifiers_never_raise(response: str, gold: str, verifier: str) -> None:
    check(verify(verifier, [response], [gold], mode="flex"))


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
    (verdict,) = verify("ifbench", [response], [truth], mode=mode)
    check([verdict])
    if verdict.status == "error":  # a missing or ill-typed kwarg, named with its instruction; never a panic
        assert instruction in verdict.error and "panic" not in verdict.error


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
