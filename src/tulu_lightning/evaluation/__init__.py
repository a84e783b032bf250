"""Evaluation: held-out accuracy while training, and Tülu 3's benchmark suites on lm-evaluation-harness.

- `generation`: greedy-decode held-out prompts and score them with a verifier (`val/accuracy` in training, RLVR).
- `suites`: the development and unseen suites (`tulu3_dev`, `tulu3_unseen`) and each task's paper setting.
- `tasks/`: the suites' lm-eval task YAMLs (built on lm-eval's own tasks through `include:`).
- `lm_eval_bridge`: our verifiers, code sandbox and judge registered as lm-eval metrics and filters; backends.
- `runner`: `python -m tulu_lightning eval`; `callback`: the dev suite on the live module while training.
- `sandbox`: code execution with time/memory limits and no network; `judge`: an OpenAI-compatible judge.

Nothing heavy is imported with the package: lm-eval is an optional dependency (the `eval` extra), and the
names below come from `generation` (Lightning, torch) when first used.
"""

from typing import Any

__all__ = ["EvalResult", "GenerationAccuracyCallback", "generation_accuracy", "prompt_messages"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tulu_lightning.evaluation import generation

        return getattr(generation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
