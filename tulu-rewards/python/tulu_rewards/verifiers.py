"""Verifiable rewards: score model responses against ground truth, in Rust, in parallel.

    >>> from tulu_rewards import verify
    >>> verify("gsm8k", ["... so the answer is 18.0"], ["18"])[0].score
    1.0

Verifiers are named as in Tülu 3's RLVR data: `gsm8k`, `math`, `strict_math`, `ifeval` (the 25 IFEval
constraints, IFBench's 58 out-of-distribution ones and Tülu 3's own `{"func_name": ...}` functions, in
one registry; `ifbench` is an alias), `string_f1`, `exact_match`. Names are case-insensitive (`MATH`)
and open-instruct's other names resolve too (`canonical_verifier`). `verify_batch` takes one verifier
per row, for mixed RLVR batches.

A row never fails its batch: a ground truth that does not parse (or an internal error) gives that row
the status "error", score 0 and the reason in `Verdict.error`. `VerifierError` is raised only for misuse
of the API: an unknown verifier name, lengths that differ. `ground_truth_errors` checks ground truths
without responses, for validating rows when a dataset is loaded.

Pass `prompts` to stop crediting answers the response only copied from the question: the prompt (and
any long line of it) is removed from the response before the answer is extracted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tulu_rewards import _native
from tulu_rewards.errors import VerifierError

Status = Literal["correct", "wrong", "unparseable", "timeout", "error"]
Mode = Literal["strict", "loose", "flex"]

VERIFIERS: tuple[str, ...] = tuple(_native.verifier_names())
# Other names datasets give the verifiers: alias -> verifier.
ALIASES: dict[str, str] = dict(_native.verifier_aliases())


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float
    status: Status
    extracted: str | None
    error: str | None = None  # why the row could not be verified (status "error")

    @property
    def correct(self) -> bool:
        return self.status == "correct"


def _misuse(err: _native.VerifierError) -> VerifierError:
    message, row = err.args
    return VerifierError(message, row)


def _ground_truth_text(value: Any) -> str:
    """Ground truths as datasets hold them: text as it is, structured values (a dict, a list of labels)
    as JSON, a missing one as empty (which no verifier accepts)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if hasattr(value, "tolist"):  # a NumPy array or scalar, as Parquet-backed datasets hold lists
        value = value.tolist()
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8_safe(column: list[Any] | None) -> list[Any] | None:
    """Lone surrogates (which `json.loads` makes of a `"\\ud800"` escape) have no UTF-8 form: each becomes
    U+FFFD, so that such a row is verified like any other instead of failing its batch."""
    if column is None:
        return None
    return [_SURROGATE.sub("\ufffd", t) if isinstance(t, str) else t for t in column]


def _native_call(function: Any, *columns: list[Any] | None, **options: Any) -> Any:
    """Call a batched native function; on text that cannot cross into Rust, clean it and call again."""
    try:
        try:
            return function(*columns, **options)
        except UnicodeEncodeError:
            return function(*[_utf8_safe(column) for column in columns], **options)
    except _native.VerifierError as err:
        raise _misuse(err) from None


def canonical_verifier(name: str) -> str:
    """The verifier a dataset's name stands for: trimmed, case-insensitive (`MATH` -> `math`), aliases
    resolved (`ifeval_old` -> `ifeval`). Raises `VerifierError` naming the known verifiers."""
    try:
        return _native.canonical_verifier(name)
    except _native.VerifierError as err:
        raise _misuse(err) from None


def _verifier_names(verifiers: Sequence[str] | str) -> list[str]:
    """One name as a str serves every row: never read as one verifier per character."""
    return [verifiers] if isinstance(verifiers, str) else list(verifiers)


def ground_truth_errors(verifiers: Sequence[str] | str, ground_truths: Sequence[Any]) -> list[str | None]:
    """Per row, None when its ground truth parses as its verifier expects, else a one-line reason
    (unknown verifier, malformed ground truth). `verifiers` may hold a single name for all rows.
    Runs in Rust, in parallel, without the GIL; raises `VerifierError` only when the lengths differ."""
    return _native_call(
        _native.ground_truth_errors,
        _verifier_names(verifiers),
        [_ground_truth_text(g) for g in ground_truths],
    )


def verify_batch(
    verifiers: Sequence[str] | str,
    responses: Sequence[str],
    ground_truths: Sequence[Any],
    prompts: Sequence[str | None] | None = None,
    *,
    mode: Mode = "strict",
    partial: bool = False,
    max_response_bytes: int = 200_000,
    timeout_s: float = 2.0,
) -> list[Verdict]:
    """Verify rows that each name their verifier (`verifiers` may also be one name, as a str or a one-item list,
    for all rows).

    `mode`: "strict", or "loose"/"flex" (math: also the last `$...$`; IFEval: loose accuracy).
    `partial`: IFEval scores the fraction of constraints followed instead of all-or-nothing.
    A response longer than `max_response_bytes` is `unparseable`; a row past `timeout_s` is `timeout`;
    a row whose ground truth does not parse is `error` (with `Verdict.error`). Raises `VerifierError`
    only for an unknown verifier name or lengths that differ.
    """
    rows = _native_call(
        _native.verify_batch,
        _verifier_names(verifiers),
        list(responses),
        [_ground_truth_text(g) for g in ground_truths],
        None if prompts is None else list(prompts),
        mode=mode,
        partial=partial,
        max_response_bytes=max_response_bytes,
        timeout_s=timeout_s,
    )
    return [Verdict(score, status, extracted, error) for score, status, extracted, error in rows]


def verify(
    verifier: str,
    responses: Sequence[str],
    ground_truths: Sequence[Any],
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
