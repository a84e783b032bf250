"""Generation-based evaluation: greedy-decode held-out prompts through the rollout interface and score the
answers with a verifier from `tulu_lightning.rewards`."""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L

from tulu_lightning.chat import prompt_ids
from tulu_lightning.config import GenerationEvalConfig
from tulu_lightning.rollout import HFRollout, SamplingParams
from tulu_lightning.tracking import log_samples

SAMPLES_LOGGED = 50  # prompts per validation in the run's samples table


@dataclass
class EvalResult:
    accuracy: float
    responses: list[str]
    scores: list[float]


def prompt_messages(row: dict) -> list[dict]:
    """The conversation up to (not including) its final assistant turn."""
    messages = row.get("messages") or row.get("chosen")
    while messages and messages[-1]["role"] == "assistant":
        messages = messages[:-1]
    return messages


def generation_accuracy(model, tokenizer, rows: list[dict], cfg: GenerationEvalConfig):
    """Greedy accuracy of `model` on `rows` (each with `messages` and `ground_truth`), scored by `cfg.verifier`
    (or by the row's own `dataset` verifier when it has one)."""
    from tulu_lightning.rewards import verify_batch

    rows = rows[: cfg.max_prompts]
    prompts = [prompt_ids(tokenizer, prompt_messages(row)) for row in rows]
    rollout = HFRollout(model, tokenizer, batch_size=cfg.batch_size)
    completions = rollout.generate(prompts, SamplingParams(temperature=0.0, max_tokens=cfg.max_new_tokens))
    responses = [c.text for c in completions]
    verifiers = [row.get("dataset") or cfg.verifier for row in rows]
    verdicts = verify_batch(verifiers, responses, [str(row["ground_truth"]) for row in rows])
    scores = [v.score for v in verdicts]
    return EvalResult(sum(scores) / max(1, len(scores)), responses, scores)


class GenerationAccuracyCallback(L.Callback):
    """Logs `val/accuracy` (greedy, verifier-scored) at the end of every validation run."""

    def __init__(self, cfg: GenerationEvalConfig, rows: list[dict]):
        self.cfg, self.rows = cfg, rows
        self.history: list[tuple[int, float]] = []  # (global step, accuracy)

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking or not self.rows:
            return
        result = generation_accuracy(module.model, module.tokenizer, self.rows, self.cfg)
        self.history.append((trainer.global_step, result.accuracy))
        module.log("val/accuracy", result.accuracy, rank_zero_only=True)
        logger = trainer.logger
        if trainer.is_global_zero and logger is not None and hasattr(logger, "run_id"):
            log_samples(logger.experiment, logger.run_id, trainer.global_step, self.samples(result))

    def samples(self, result: EvalResult, limit: int = SAMPLES_LOGGED) -> dict[str, list]:
        """The first `limit` prompts with the model's greedy answers and the verifier's verdicts, as columns."""
        rows = self.rows[: min(limit, len(result.responses))]
        return {
            "prompt": [prompt_messages(row)[-1]["content"] for row in rows],
            "generation": result.responses[: len(rows)],
            "ground_truth": [str(row["ground_truth"]) for row in rows],
            "verifier": [row.get("dataset") or self.cfg.verifier for row in rows],
            "score": result.scores[: len(rows)],
        }
