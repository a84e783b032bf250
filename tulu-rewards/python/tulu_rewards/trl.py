"""TRL: the verifiers as `reward_funcs` of `GRPOTrainer` (and of TRL's other trainers that call reward
functions the same way).

    from trl import GRPOConfig, GRPOTrainer
    from tulu_rewards.trl import reward_function

    trainer = GRPOTrainer(model=..., reward_funcs=reward_function, train_dataset=rows, args=GRPOConfig(...))

TRL calls `reward_func(prompts=..., completions=..., completion_ids=..., **columns)`, where `columns` holds
every other dataset column, one value per completion. `reward_function` reads the `ground_truth` column
and the `dataset` column (each row's verifier), as Tülu 3's RLVR data names them; `make_reward_function`
builds one for a fixed verifier, other column names or another mode. Completions are plain text, or
message lists (conversational datasets: the last message's content is scored). The prompt is passed to
the verifiers, so an answer the completion only copies from the question is not credited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tulu_rewards.verifiers import Mode, VerifierError, verify_batch

_LOGGED_STATUSES = ("unparseable", "timeout", "error")


def _message_text(message: Any) -> str:
    content = message.get("content", "") if isinstance(message, dict) else message
    if isinstance(content, list):  # multimodal content parts: keep the text ones
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def completion_text(completion: Any) -> str:
    """The text a completion answers with: itself when it is text, the last message's content when it
    is a conversation (TRL's conversational format)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return _message_text(completion[-1]) if completion else ""
    return str(completion)


def prompt_text(prompt: Any) -> str | None:
    """A prompt as text: itself, or every message's content joined (conversational format)."""
    if prompt is None or isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n".join(_message_text(m) for m in prompt)
    return str(prompt)


def make_reward_function(
    verifier: str | None = None,
    *,
    ground_truth_column: str = "ground_truth",
    verifier_column: str = "dataset",
    mode: Mode = "strict",
    partial: bool = False,
    timeout_s: float = 2.0,
    max_response_bytes: int = 200_000,
    name: str = "reward_function",
) -> Callable[..., list[float]]:
    """A TRL `reward_funcs` callable scoring each completion against its row's `ground_truth_column`,
    with `verifier` for every row, or else the verifier each row names in `verifier_column`.

    `name` is what TRL logs the reward under (`rewards/<name>/mean`). When TRL passes its logging hooks,
    each completion's status goes to the completions table (column `<name>_status`) and the fraction
    of unparseable, timed-out and error rows to the metrics (`<name>/unparseable`, ...).
    """
    if verifier is not None:
        from tulu_rewards.verifiers import canonical_verifier

        canonical_verifier(verifier)  # an unknown name fails here, not at the first training step

    def reward(
        prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (), **columns: Any
    ) -> list[float]:
        truths = columns.get(ground_truth_column)
        if truths is None:
            raise VerifierError(f"{name} needs a `{ground_truth_column}` column")
        if verifier is not None:
            verifiers = [verifier]
        else:
            names = columns.get(verifier_column)
            if names is None:
                raise VerifierError(f"{name} needs a `{verifier_column}` column naming each row's verifier")
            verifiers = [names] if isinstance(names, str) else list(names)
        verdicts = verify_batch(
            verifiers,
            [completion_text(c) for c in completions],
            list(truths),
            None if prompts is None else [prompt_text(p) for p in prompts],
            mode=mode,
            partial=partial,
            timeout_s=timeout_s,
            max_response_bytes=max_response_bytes,
        )
        _log(name, [v.status for v in verdicts], columns)
        return [v.score for v in verdicts]

    reward.__name__ = reward.__qualname__ = name
    return reward


def _log(name: str, statuses: list[str], columns: dict[str, Any]) -> None:
    """Report statuses through TRL's `log_extra` / `log_metric` hooks (TRL ≥ 0.24) when they are passed."""
    log_extra, log_metric = columns.get("log_extra"), columns.get("log_metric")
    if callable(log_extra):
        log_extra(f"{name}_status", statuses)
    if callable(log_metric) and statuses:
        for status in _LOGGED_STATUSES:
            log_metric(f"{name}/{status}", statuses.count(status) / len(statuses))


def reward_function(
    prompts: Sequence[Any] | None = None,
    completions: Sequence[Any] = (),
    ground_truth: Sequence[Any] | None = None,
    dataset: Sequence[str] | str | None = None,
    **columns: Any,
) -> list[float]:
    """A TRL `reward_funcs` callable: reads the `ground_truth` and `dataset` (verifier name) columns."""
    return _default_reward(prompts, completions, ground_truth=ground_truth, dataset=dataset, **columns)


_default_reward = make_reward_function()
