"""verl: the verifiers as verl's custom reward function.

    # per row (verl's `naive` reward manager, the default):
    python -m verl.trainer.main_ppo ... \\
        custom_reward_function.path=pkg://tulu_rewards.verl custom_reward_function.name=compute_score
    # batched (verl's `batch` reward manager: one call, the batch verified in parallel in Rust):
    python -m verl.trainer.main_ppo ... reward_model.reward_manager=batch \\
        custom_reward_function.path=pkg://tulu_rewards.verl custom_reward_function.name=compute_score_batch

verl calls `compute_score(data_source=, solution_str=, ground_truth=, extra_info=)` per response, and its
batch reward manager `compute_score(data_sources=, solution_strs=, ground_truths=, extra_infos=)` per
batch, with `custom_reward_function.reward_kwargs` merged into the keyword arguments (here: `verifier`,
`mode`, `partial`, `timeout_s`, `max_response_bytes`; other keyword arguments verl passes are ignored).

Each result is a dict, as verl's own `math_dapo` returns: `score` (the reward, in [0, 1]), `acc` (the
verdict is "correct"), `pred` (the answer read from the response, "" when none), `status` and `error`
(why a row could not be verified, "" otherwise); verl logs the extra keys. `math` reads `\\boxed{}` and
Minerva's "Final Answer" in the default strict mode; DAPO-style responses ending `Answer: 42` need
`mode="flex"` (`+custom_reward_function.reward_kwargs.mode=flex`).

The verifier of a row is `verifier` when given, else `extra_info["verifier"]`, else its data source: one of
our verifier names or aliases (Tülu 3's `gsm8k`, `MATH`, `ifeval`, ...), or a data source verl's own
`default_compute_score` knows (see `VERL_DATA_SOURCES`). An unknown data source raises `VerifierError`, as
verl's `NotImplementedError` does. The row's prompt, when `extra_info` holds one (`prompt`, or `question` as
verl's example preprocessing stores it), is passed on so an answer copied from the question is not credited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tulu_rewards.verifiers import Mode, Verdict, VerifierError, canonical_verifier, verify_batch

# Data sources verl's `default_compute_score` scores, by the verifier that reads the same answers.
VERL_DATA_SOURCES: dict[str, str] = {
    "openai/gsm8k": "gsm8k",
    "lighteval/MATH": "math",
    "DigitalLearningGmbH/MATH-lighteval": "math",
    "HuggingFaceH4/MATH-500": "math",
    "math_dapo": "math",
    "math_dapo_reasoning": "math",
    "numina_aops_forum": "math",
    "numina_synthetic_math": "math",
    "numina_amc_aime": "math",
    "numina_synthetic_amc": "math",
    "numina_cn_k12": "math",
    "numina_olympiads": "math",
}
# verl routes every data source starting with "aime" to its math scorer.
_MATH_PREFIXES = ("aime",)


def verifier_for(data_source: str, extra_info: Any = None, verifier: str | None = None) -> str:
    """The verifier of a row: `verifier`, else `extra_info["verifier"]`, else the one its data source
    names (ours, or verl's). Raises `VerifierError` for a data source neither knows."""
    if verifier is None and isinstance(extra_info, dict) and isinstance(extra_info.get("verifier"), str):
        verifier = extra_info["verifier"]
    if verifier is not None:
        return canonical_verifier(verifier)
    source = str(data_source)
    if source in VERL_DATA_SOURCES:
        return VERL_DATA_SOURCES[source]
    if source.startswith(_MATH_PREFIXES):
        return "math"
    try:
        return canonical_verifier(source)
    except VerifierError as err:
        raise VerifierError(
            f"no verifier for data_source {source!r}: name one with extra_info['verifier'] or "
            f"custom_reward_function.reward_kwargs.verifier (verl data sources: {', '.join(VERL_DATA_SOURCES)}, "
            f"aime*; {err.message})"
        ) from None


def _prompt(extra_info: Any) -> str | None:
    if not isinstance(extra_info, dict):
        return None
    for key in ("prompt", "question"):
        if isinstance(extra_info.get(key), str):
            return extra_info[key]
    return None


def _result(verdict: Verdict) -> dict[str, Any]:
    return {
        "score": verdict.score,
        "acc": verdict.correct,
        "pred": verdict.extracted or "",
        "status": verdict.status,
        "error": verdict.error or "",
    }


def compute_score_batch(
    data_sources: Iterable[str] | None,
    solution_strs: Sequence[str],
    ground_truths: Iterable[Any],
    extra_infos: Iterable[Any] | None = None,
    *,
    verifier: str | None = None,
    mode: Mode = "strict",
    partial: bool = False,
    timeout_s: float = 2.0,
    max_response_bytes: int = 200_000,
    **_verl_kwargs: Any,
) -> list[dict[str, Any]]:
    """verl's batched custom reward function (`reward_model.reward_manager=batch`): one result per response,
    the whole batch verified in one parallel call. `data_sources` may be None when every row's verifier is
    named otherwise (`verifier`, `extra_info["verifier"]`)."""
    responses = [str(s) for s in solution_strs]
    sources = [""] * len(responses) if data_sources is None else list(data_sources)
    infos = [None] * len(responses) if extra_infos is None else list(extra_infos)
    if not len(sources) == len(infos) == len(responses):
        raise VerifierError(
            f"{len(responses)} solution_strs but {len(sources)} data_sources and {len(infos)} extra_infos"
        )
    verifiers = []
    for row, (source, info) in enumerate(zip(sources, infos)):
        try:
            verifiers.append(verifier_for(source, info, verifier))
        except VerifierError as err:
            raise VerifierError(err.message, row) from None
    verdicts = verify_batch(
        verifiers,
        responses,
        list(ground_truths),
        [_prompt(info) for info in infos],
        mode=mode,
        partial=partial,
        timeout_s=timeout_s,
        max_response_bytes=max_response_bytes,
    )
    return [_result(v) for v in verdicts]


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Any = None,
    *,
    verifier: str | None = None,
    mode: Mode = "strict",
    partial: bool = False,
    timeout_s: float = 2.0,
    max_response_bytes: int = 200_000,
    **_verl_kwargs: Any,
) -> dict[str, Any]:
    """verl's custom reward function, one response at a time (verl's `naive` reward manager)."""
    try:
        (result,) = compute_score_batch(
            [data_source],
            [solution_str],
            [ground_truth],
            [extra_info],
            verifier=verifier,
            mode=mode,
            partial=partial,
            timeout_s=timeout_s,
            max_response_bytes=max_response_bytes,
        )
    except VerifierError as err:  # one row: no "row 0" in the message
        raise VerifierError(err.message) from None
    return result
