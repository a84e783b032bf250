"""The dev suite while training: the live module wrapped as an lm-eval model at validation time."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from tests.conftest import tiny_sft_config, write_config
from tests.eval_support import EVAL_DATA
from tulu_lightning.cli import main
from tulu_lightning.train import fit, load_run_config

pytest.importorskip("lm_eval")

SUITE_EVAL = {
    "enabled": True,
    "suites": ["tulu3_dev"],
    "tasks": ["gsm8k"],  # one tiny local task: 2 questions, 8 new tokens
    "local_data": str(EVAL_DATA),
    "limit": 2,
    "max_gen_toks": 8,
}


def test_fit_tracks_the_dev_suite_of_the_live_model(tmp_path):
    from tulu_lightning.evaluation.lm_eval_bridge import TaskLibrary, hf_model, live_model
    from tulu_lightning.evaluation.runner import run_task
    from tulu_lightning.evaluation.suites import TULU3_DEV

    cfg = load_run_config(str(write_config(tmp_path, tiny_sft_config(tmp_path, trainer={"max_steps": 4},
                                                                   suite_eval=SUITE_EVAL))))  # fmt: skip
    result = fit(cfg)
    assert result.metrics["dev/mean"] == result.metrics["dev/gsm8k"]
    history = MlflowClient(tracking_uri=cfg.tracking.uri).get_metric_history(result.run_id, "dev/gsm8k")
    assert len(history) >= 1 and history[-1].value == pytest.approx(result.metrics["dev/gsm8k"])

    # the callback evaluates the live weights: the same answers, question by question, as the exported model
    module = result.module.eval()
    task = TULU3_DEV.task("gsm8k")
    with TaskLibrary(EVAL_DATA) as library:
        live = run_task(
            live_model(module.model, module.tokenizer), library, TULU3_DEV, task, limit=2, max_gen_toks=8
        )
        exported = run_task(hf_model(str(result.hf_dir), device="cpu", dtype="float32"), library, TULU3_DEV, task,
                            limit=2, max_gen_toks=8)  # fmt: skip
    assert live.score == exported.score == result.metrics["dev/gsm8k"]
    assert [s["response"] for s in live.samples] == [s["response"] for s in exported.samples]
    assert all(s["response"] for s in live.samples)


def test_suite_eval_config_is_checked_at_start(tmp_path, capsys):
    bad = tiny_sft_config(tmp_path, suite_eval={**SUITE_EVAL, "tasks": ["gpqa"]})
    assert main(["fit", "--config", str(write_config(tmp_path, bad))]) == 2
    assert "suite_eval.tasks[0]: 'gpqa' is in none of tulu3_dev" in capsys.readouterr().err
