"""Tülu 3's benchmark suites while training: the live module's model, wrapped as an lm-eval model, evaluated at
the end of validation, so a recipe can track its dev-suite score as it trains.

Enabled by the `suite_eval` section of a fit config. The model is not copied: evaluation sees the current
weights, in eval mode, under no_grad (lm-eval's generation). Every rank runs the same questions with the same
seed, so a sharded (FSDP2) model's ranks stay in step; only rank zero logs. Code and judge tasks run only when
their settings are given, as with `eval`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightning as L

from tulu_lightning.config import SuiteEvalConfig


@dataclass
class SuiteEvalResult:
    step: int
    scores: dict[str, float] = field(default_factory=dict)  # dev/<task>, dev/mean


class SuiteEvalCallback(L.Callback):
    """Logs `<prefix>/<task>` and `<prefix>/mean` for the configured suites every `every_n_validations`."""

    def __init__(self, cfg: SuiteEvalConfig) -> None:
        from tulu_lightning.evaluation.runner import selected_tasks

        self.cfg = cfg
        self.plan = selected_tasks(cfg.suites, cfg.tasks)
        self.history: list[SuiteEvalResult] = []
        self._library = None
        self._validations = 0

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self._validations += 1
        if self._validations % self.cfg.every_n_validations:
            return
        result = self.evaluate(module, trainer.global_step, verbose=trainer.is_global_zero)
        self.history.append(result)
        for name, value in result.scores.items():
            module.log(name, value, rank_zero_only=True)

    def evaluate(self, module: L.LightningModule, step: int = 0, verbose: bool = True) -> SuiteEvalResult:
        from tulu_lightning.evaluation import sandbox
        from tulu_lightning.evaluation.lm_eval_bridge import TaskLibrary, live_model
        from tulu_lightning.evaluation.runner import TaskOutcome, run_task, say, skip_reason, suite_means

        if self._library is None:
            self._library = TaskLibrary(self.cfg.local_data)
        lm = live_model(module.model, module.tokenizer, batch_size=self.cfg.batch_size)
        outcomes: list[TaskOutcome] = []
        with sandbox.code_execution(self.cfg.code_execution):
            for suite, task in self.plan:
                reason = skip_reason(task, self.cfg.code_execution.enabled, judge_configured=False)
                if reason:
                    if verbose and not self.history:
                        say(f"skip {suite.prefix}/{task.name}: {reason}")
                    continue
                outcome = run_task(
                    lm, self._library, suite, task, limit=self.cfg.limit, max_gen_toks=self.cfg.max_gen_toks,
                    seed=self.cfg.seed, log_samples=False, confirm_run_unsafe_code=self.cfg.code_execution.enabled,
                )  # fmt: skip
                outcomes.append(outcome)
        means, _ = suite_means(outcomes)
        scores = {o.key: o.score for o in outcomes if o.score is not None} | means
        return SuiteEvalResult(step, scores)  # type: ignore[arg-type]

    def teardown(self, trainer: L.Trainer, module: L.LightningModule, stage: str) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None


__all__ = ["SuiteEvalCallback", "SuiteEvalResult"]
