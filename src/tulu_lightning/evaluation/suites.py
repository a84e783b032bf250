"""Tülu 3's two evaluation suites (Lambert et al., 2024, table 3), task by task.

A suite is an lm-eval group (`tasks/tulu3_dev.yaml`, `tasks/tulu3_unseen.yaml`); this module says, for each of
its tasks, what the runner needs beyond the task YAML: the name it is reported under (`dev/<name>`), the
metric that is its score, whether prompts go through the chat template (and few-shot exemplars as earlier
turns), and whether it needs code execution or a judge. The paper's setting of each task is in its YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Needs = Literal["code", "judge"]


@dataclass(frozen=True)
class SuiteTask:
    name: str  # reported as <suite prefix>/<name>
    task: str  # the lm-eval task or group (tasks/)
    metric: str  # lm-eval's result key "<metric>,<filter>" that is the task's score
    chat: bool = True  # apply the model's chat template
    fewshot_as_multiturn: bool = True  # few-shot exemplars as earlier user/assistant turns
    needs: Needs | None = None


@dataclass(frozen=True)
class Suite:
    name: str  # the lm-eval group
    prefix: str  # metric prefix: dev | unseen
    tasks: tuple[SuiteTask, ...]

    def task(self, name: str) -> SuiteTask:
        for task in self.tasks:
            if name in (task.name, task.task):
                return task
        raise KeyError(
            f"suite {self.name} has no task {name!r} (tasks: {', '.join(t.name for t in self.tasks)})"
        )


TULU3_DEV = Suite(
    "tulu3_dev",
    "dev",
    (
        SuiteTask("mmlu", "tulu3_mmlu", "tulu_choice_macro_exact_match,flex"),
        SuiteTask("popqa", "tulu3_popqa", "tulu_answer_in_output,none"),
        SuiteTask("truthfulqa", "tulu3_truthfulqa", "acc,none"),
        SuiteTask("bbh", "tulu3_bbh", "exact_match,get-answer"),
        SuiteTask("drop", "tulu3_drop", "f1,none", chat=False, fewshot_as_multiturn=False),
        SuiteTask("math", "tulu3_math", "tulu_exact_match,none"),
        SuiteTask("gsm8k", "tulu3_gsm8k", "tulu_exact_match,none"),
        SuiteTask("humaneval", "tulu3_humaneval", "pass@10,programs", needs="code"),
        SuiteTask("humanevalplus", "tulu3_humanevalplus", "pass@10,programs", needs="code"),
        SuiteTask("ifeval", "tulu3_ifeval", "tulu_prompt_level_loose_acc,none"),
        SuiteTask("alpaca_eval", "tulu3_alpaca_eval", "tulu_judge_lc_win_rate,none", needs="judge"),
        SuiteTask("safety", "tulu3_safety", "tulu_safety,none", needs="judge"),
    ),
)

TULU3_UNSEEN = Suite(
    "tulu3_unseen",
    "unseen",
    (
        SuiteTask("agieval", "tulu3_agieval", "exact_match,flex"),
        SuiteTask("mmlu_pro", "tulu3_mmlu_pro", "exact_match,flex"),
        SuiteTask("gpqa", "tulu3_gpqa", "exact_match,flex"),
        SuiteTask("deepmind_math", "tulu3_deepmind_math", "tulu_exact_match,answer"),
        SuiteTask("bigcodebench", "tulu3_bigcodebench", "pass@10,programs", needs="code"),
        SuiteTask("ifeval_ood", "tulu3_ifeval_ood", "tulu_prompt_level_loose_acc,none"),
        SuiteTask("href", "tulu3_href", "tulu_judge_win_rate,none", needs="judge"),
    ),
)

SUITES: dict[str, Suite] = {suite.name: suite for suite in (TULU3_DEV, TULU3_UNSEEN)}


def resolve_suites(names: str | list[str]) -> list[Suite]:
    """Suites named in `names` (a list, or one comma-separated string such as "tulu3_dev,tulu3_unseen")."""
    items = names.split(",") if isinstance(names, str) else [n for name in names for n in name.split(",")]
    suites = []
    for name in (n.strip() for n in items):
        if not name:
            continue
        if name not in SUITES:
            raise KeyError(f"unknown suite {name!r} (known: {', '.join(SUITES)})")
        if SUITES[name] not in suites:
            suites.append(SUITES[name])
    return suites


def is_suite_list(text: str) -> bool:
    """Whether `text` names only suites ("tulu3_dev" or "tulu3_dev,tulu3_unseen"), not a file."""
    names = [n.strip() for n in text.split(",")]
    return bool(names) and all(n in SUITES for n in names)


__all__ = ["SUITES", "TULU3_DEV", "TULU3_UNSEEN", "Suite", "SuiteTask", "is_suite_list", "resolve_suites"]
