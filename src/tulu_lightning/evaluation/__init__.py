"""Evaluation: held-out accuracy while training, and Tülu 3's benchmark suites on lm-evaluation-harness.

- `generation`: greedy-decode held-out prompts and score them with a verifier (`val/accuracy` in training, RLVR).
- `suites`: the development and unseen suites (`tulu3_dev`, `tulu3_unseen`) and each task's paper setting.
- `tasks/`: the suites' lm-eval task YAMLs (built on lm-eval's own tasks through `include:`).
- `lm_eval_bridge`: our verifiers, code sandbox and judge registered as lm-eval metrics and filters; backends.
- `runner`: `python -m tulu_lightning eval`; `callback`: the dev suite on the live module while training.
- `sandbox`: code execution with time/memory limits and no network; `judge`: an OpenAI-compatible judge.

Only `generation` is imported here: lm-eval is an optional dependency (the `eval` extra).
"""

from tulu_lightning.evaluation.generation import (
    EvalResult,
    GenerationAccuracyCallback,
    generation_accuracy,
    prompt_messages,
)

__all__ = ["EvalResult", "GenerationAccuracyCallback", "generation_accuracy", "prompt_messages"]
