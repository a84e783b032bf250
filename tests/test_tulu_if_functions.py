"""Tülu 3's own IF functions (`{"func_name": ...}` ground truths) against open-instruct's.

`tulu_if_corpus.jsonl` holds responses x constraints labelled by running open-instruct's
`if_functions.py` as it trained Tülu 3 (`scripts/make_tulu_if_corpus.py`): `reference` is its verdict,
`expected` the same after the documented corrections of its plain bugs. Run with `-s` to see the
agreement per function. The cases of open-instruct's own tests are ported below.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from tulu_lightning.rewards import verify

CORPUS = Path(__file__).parent / "data" / "rewards" / "tulu_if_corpus.jsonl"
# whatlang stands in for langdetect (on short Cyrillic texts it reads Russian as Bulgarian).
LANGUAGE = "validate_response_language"


def ground_truth(func_name: str, **args: object) -> str:
    """A ground truth in the schema of allenai/RLVR-IFeval: every argument name, null where unused."""
    names = ["N", "quantifier", "end_phrase", "keyword_list", "word", "forbidden_words", "letter", "i",
             "first_word", "postscript_marker", "options", "section_splitter", "original_prompt"]  # fmt: skip
    return json.dumps({"func_name": func_name, **{name: args.get(name) for name in names}, **args})


def label(verdict) -> bool | str:
    return "error" if verdict.status == "error" else verdict.status == "correct"


def follows(func_name: str, response: str, **args: object) -> bool | str:
    return label(verify("ifeval", [response], [ground_truth(func_name, **args)])[0])


def test_corpus_agreement() -> None:
    rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    assert len(rows) >= 1000
    verdicts = verify("ifeval", [r["response"] for r in rows], [r["ground_truth"] for r in rows])
    # per function: [agree with expected, agree with the raw reference, rows]
    per_function: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row, verdict in zip(rows, verdicts, strict=True):
        ours = label(verdict)
        counts = per_function[row["func_name"]]
        counts[0] += ours == row["expected"]
        counts[1] += ours == row["reference"]
        counts[2] += 1
    print(f"\nTülu IF functions on {len(rows)} generated rows (ours vs expected / vs raw open-instruct):")
    for name, (expected, reference, total) in sorted(per_function.items()):
        print(f"  {name:<34} {expected:>3}/{total}  {reference:>3}/{total}")
    totals = [sum(c[i] for c in per_function.values()) for i in range(3)]
    print(f"  {'all':<34} {totals[0]}/{totals[2]}  {totals[1]}/{totals[2]}")
    assert len(per_function) == 25
    for name, (expected, _, total) in per_function.items():
        if name == LANGUAGE:
            assert expected / total >= 0.9, name
        else:
            assert expected == total, name


def test_corpus_labels_follow_the_schema() -> None:
    for line in CORPUS.open(encoding="utf-8"):
        row = json.loads(line)
        truth = json.loads(row["ground_truth"])
        assert truth["func_name"] == row["func_name"] and "original_prompt" in truth
        assert row["expected"] in (True, False, "error")
        assert (row["expected"] != row["reference"]) == bool(row["corrected"]), row


# open-instruct's `open_instruct/test_if_functions.py` (a09e14928, May 2026). Its expectations encode two
# changes made after Tülu 3 was trained, which we do not follow (Tülu 3's semantics are kept): the
# `validate_choice` operand order (`option in text`; Tülu: `text in option`) and "around" for capital words
# (±10%; Tülu: exactly N). The last column is Tülu's verdict; `upstream` marks where the port differs.
CHOICE_CASES = [
    ("option_in_text", "I believe the answer is B", ["A", "B", "C", "D"], False, "upstream: True"),
    ("option_appears", "I choose red", ["red", "blue"], False, "upstream: True"),
    ("no_option_present", "I choose green", ["red", "blue"], False, ""),
    ("exact_match", "red", ["red", "blue"], True, ""),
]
CAPITAL_CASES = [
    ("around_exact", "AAA BBB CCC DDD EEE", 5, "around", True, ""),
    ("around_off_by_one_low", "AAA BBB CCC DDD", 5, "around", False, "upstream: True"),
    ("around_off_by_one_high", "AAA BBB CCC DDD EEE FFF", 5, "around", False, "upstream: True"),
    ("around_far_off", "AAA BBB", 5, "around", False, ""),
    ("at_least_satisfied", "AAA BBB CCC", 2, "at least", True, ""),
    ("at_most_violated", "AAA BBB CCC DDD", 2, "at most", False, ""),
]


@pytest.mark.parametrize(("name", "text", "options", "expected", "_note"), CHOICE_CASES)
def test_open_instruct_validate_choice(
    name: str, text: str, options: list, expected: bool, _note: str
) -> None:
    assert follows("validate_choice", text, options=options) is expected, name


@pytest.mark.parametrize(("name", "text", "n", "quantifier", "expected", "_note"), CAPITAL_CASES)
def test_open_instruct_capital_words(
    name: str, text: str, n: int, quantifier: str, expected: bool, _note: str
) -> None:
    assert follows("validate_frequency_capital_words", text, N=n, quantifier=quantifier) is expected, name


def test_open_instruct_docstring_examples() -> None:
    assert follows("verify_letter_frequency", "hello world", letter="l", N=3) is True
    assert follows("verify_letter_frequency", "hello world", letter="o", N=2) is True
    assert follows("verify_letter_frequency", "hello world", letter="x", N=0) is True
    assert follows("verify_paragraph_count", "First paragraph\n* * *\nSecond paragraph", N=2) is True
    text = "Hello [name], your [item] will be delivered to [address]"
    assert follows("validate_placeholders", text, N=2) is True
    assert follows("validate_response_language", "This is an English sentence", language="en") is True
    text = "This is a message that should not contain any bad words"
    assert follows("validate_forbidden_words", text, forbidden_words=["bad", "evil", "harmful"]) is False


def test_rlvr_ifeval_rows() -> None:
    """Rows as allenai/RLVR-IFeval stores them (string options, the prompt inside the ground truth)."""
    choice = ground_truth("validate_choice", options="I know or I don't know")
    prompt = "First, repeat the request without change, then give your answer. What is 2 + 2?"
    repeat = ground_truth("validate_repeat_prompt", original_prompt=prompt)
    verdicts = verify(
        "ifeval",
        ["I don't know", "I don't know, it depends", prompt + "\n4", "4"],
        [choice, choice, repeat, repeat],
    )
    assert [label(v) for v in verdicts] == [True, False, True, False]


def test_a_response_with_reasoning_is_checked_after_it() -> None:
    truth = ground_truth("validate_lowercase")
    verdicts = verify(
        "ifeval", ["<think>Let me THINK.</think>\n all lower", "<think>x</think>NOT LOWER"], [truth] * 2
    )
    assert [label(v) for v in verdicts] == [True, False]
