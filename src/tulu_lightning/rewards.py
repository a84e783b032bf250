"""Verifiable rewards: score model responses against ground truth, in Rust, in parallel.

    >>> from tulu_lightning.rewards import verify
    >>> verify("gsm8k", ["... so the answer is 18.0"], ["18"])[0].score
    1.0

Verifiers are named as in Tülu 3's RLVR data: `gsm8k`, `math`, `strict_math`, `ifeval` (the 25 IFEval
constraints and IFBench's 58 out-of-distribution ones, in one registry; `ifbench` is an alias),
`string_f1`, `exact_match`. `verify_batch` takes one verifier per
row, for mixed RLVR batches; `reward_function` is a TRL-style `reward_funcs` callable.

Pass `prompts` to stop crediting answers the response only copied from the question: the prompt (and
any long line of it) is removed from the response before the answer is extracted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tulu_lightning import _native
from tulu_lightning.errors import VerifierError

Status = Literal["correct", "wrong", "unparseable", "timeout"]
Mode = Literal["strict", "loose", "flex"]

VERIFIERS: tuple[str, ...] = tuple(_native.verifier_names())


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float
    status: Status
    extracted: str | None

    @property
    def correct(self) -> bool:
        return self.status == "correct"


def verify_batch(
    verifiers: Sequence[str],
    responses: Sequence[str],
    ground_truths: Sequence[str],
    prompts: Sequence[str | None] | None = None,
    *,
    mode: Mode = "strict",
    partial: bool = False,
    max_response_bytes: int = 200_000,
    timeout_s: float = 2.0,
) -> list[Verdict]:
    """Verify rows that each name their verifier (`verifiers` may also hold a single name for all rows).

    `mode`: "strict", or "loose"/"flex" (math: also the last `$...$`; IFEval: loose accuracy).
    `partial`: IFEval scores the fraction of constraints followed instead of all-or-nothing.
    A response longer than `max_response_bytes` is `unparseable`; a row past `timeout_s` is `timeout`.
    """
    try:
        rows = _native.verify_batch(
            list(verifiers),
            list(responses),
            list(ground_truths),
            None if prompts is None else list(prompts),
            mode,
            partial,
            max_response_bytes,
            timeout_s,
        )
    except _native.VerifierError as err:
        message, row = err.args
        raise VerifierError(message, row) from None
    return [Verdict(score, status, extracted) for score, status, extracted in rows]


def verify(
    verifier: str,
    responses: Sequence[str],
    ground_truths: Sequence[str],
    *,
    prompts: Sequence[str | None] | None = None,
    mode: Mode = "strict",
    partial: bool = False,
    max_response_bytes: int = 200_000,
    timeout_s: float = 2.0,
) -> list[Verdict]:
    """Verify every row with the same verifier."""
    return verify_batch(
        [verifier],
        responses,
        ground_truths,
        prompts,
        mode=mode,
        partial=partial,
        max_response_bytes=max_response_bytes,
        timeout_s=timeout_s,
    )


def _completion_text(completion: Any) -> str:
    # TRL passes strings for standard datasets and message lists for conversational ones.
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return str(completion)


def _prompt_text(prompt: Any) -> str | None:
    if prompt is None or isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n".join(str(m.get("content", "")) for m in prompt if isinstance(m, dict))
    return str(prompt)


def reward_function(
    prompts: Sequence[Any] | None,
    completions: Sequence[Any],
    ground_truth: Sequence[str] | None = None,
    dataset: Sequence[str] | str | None = None,
    **kwargs: Any,
) -> list[float]:
    """A TRL `reward_funcs` callable: reads the `ground_truth` and `dataset` (verifier name) columns."""
    if ground_truth is None:
        raise VerifierError("reward_function needs a `ground_truth` column", 0)
    if dataset is None:
        raise VerifierError("reward_function needs a `dataset` column naming each row's verifier", 0)
    verifiers = [dataset] if isinstance(dataset, str) else list(dataset)
    texts = [_completion_text(c) for c in completions]
    prompt_texts = None if prompts is None else [_prompt_text(p) for p in prompts]
    return [v.score for v in verify_batch(verifiers, texts, list(ground_truth), prompt_texts)]
