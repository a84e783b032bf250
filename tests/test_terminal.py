"""What a command shows: the training bar (loss, LR, tokens/s; no batch rate, no v_num) and the closing
paragraph (outputs, figures, MLflow run and the `mlflow ui` command that opens it)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import torch

from tests.conftest import tiny_sft_config, write_config
from tulu_lightning.cli import main
from tulu_lightning.progress_bar import TrainingProgressBar
from tulu_lightning.terminal import format_figure, key_figures, mlflow_ui_command, summary


def test_bar_shows_loss_lr_and_throughput_and_nothing_else():
    bar = TrainingProgressBar("sft")
    logged = {
        "train/loss": torch.tensor(1.23456),
        "train/lr": torch.tensor(3e-5),
        "train/tokens_per_sec": torch.tensor(51234.0),
        "train/grad_norm": torch.tensor(0.5),
        "val/accuracy": torch.tensor(0.4),
    }
    shown = bar.get_metrics(SimpleNamespace(callback_metrics=logged), None)
    assert shown == {"loss": "1.235", "lr": "3.0e-05", "tok/s": "51.2k", "val acc": "0.4"}
    assert "rate" not in bar.BAR_FORMAT and "steps" in bar.BAR_FORMAT


def test_figures_read_as_a_person_reads_them():
    assert [format_figure(v) for v in (0.0, 0.5, 2.0e-6, 1234.5, 98765.0, 3.2e7)] == [
        "0", "0.5", "2.0e-06", "1234", "98.8k", "32M"
    ]  # fmt: skip
    assert key_figures({"train/lr": 1.0, "val/loss": 2.0, "train/loss": 3.0}) == {
        "val/loss": 2.0,
        "train/loss": 3.0,
    }


def test_summary_paragraph_names_outputs_figures_and_the_ui_command(tmp_path):
    uri = "sqlite:///relative/mlflow.db"
    text = summary(
        "sft trained in 1.0 min", {"model": tmp_path / "hf", "nothing": None}, {"val/loss": 1.5}, "abc", uri
    )
    flat = " ".join(text.split())
    assert flat.startswith("sft trained in 1.0 min. Outputs: model ")
    assert "Key figures: val/loss 1.5." in flat
    assert "MLflow run abc in sqlite:///relative/mlflow.db" in flat
    # made absolute, so the command works from any directory; the run itself is not in this store
    assert mlflow_ui_command(uri) in flat and mlflow_ui_command(uri).startswith(
        "mlflow ui --backend-store-uri sqlite:////"
    )
    assert all(len(line) <= 110 for line in text.splitlines()[:-2])
    assert text.splitlines()[-2] == "  " + mlflow_ui_command(uri)  # on its own line, to copy whole
    assert "Not tracked in MLflow" in summary("x", {}, None, None, None)


def test_fit_shows_the_bar_and_ends_with_the_summary(tmp_path, capsys):
    cfg = tiny_sft_config(tmp_path, trainer={"max_steps": 3, "val_check_interval": 1.0})
    assert main(["fit", "--config", str(write_config(tmp_path, cfg))]) == 0
    out = capsys.readouterr().out
    bar_lines = [line for line in re.split(r"[\r\n]", out) if line.startswith("sft")]
    last_bar = next(line for line in reversed(bar_lines) if "3/3 steps" in line)
    assert "loss=" in last_bar and "lr=" in last_bar and "tok/s=" in last_bar
    assert "it/s" not in out and "v_num" not in out
    paragraph = " ".join(out[out.rindex("sft trained in ") :].split())
    assert paragraph.startswith("sft trained in ")
    assert (
        f"run directory {cfg['trainer']['output_dir']}" in paragraph and "Key figures: val/loss" in paragraph
    )
    assert (
        "mlflow ui --backend-store-uri sqlite:///" in paragraph
        and "http://127.0.0.1:5000/#/experiments/" in paragraph
    )


def test_lightnings_chatter_is_dropped_and_its_useful_lines_kept(caplog):
    import logging
    import warnings

    from lightning.pytorch.utilities.rank_zero import rank_zero_info

    from tulu_lightning.train import quiet_lightning_chatter

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_lightning_chatter()
        quiet_lightning_chatter()  # idempotent: one filter each
        with caplog.at_level(logging.INFO):
            rank_zero_info("GPU available: False, used: False")
            rank_zero_info("💡 Tip: For seamless cloud logging ... try installing [litlogger]")
            rank_zero_info("data: over_long_examples 0, dropped_examples 0")
            rank_zero_info("`Trainer.fit` stopped: `max_steps=2` reached.")
        for message in (
            "Found 66 module(s) in eval mode at the start of training. This may lead to ...",
            "You're resuming from a checkpoint that ended before the epoch ended and your ...",
            "GPU available but not used. You can set it by doing `Trainer(accelerator='gpu')`.",
        ):
            warnings.warn(message, stacklevel=1)
    assert [r.getMessage() for r in caplog.records] == [
        "data: over_long_examples 0, dropped_examples 0",
        "`Trainer.fit` stopped: `max_steps=2` reached.",
    ]
    assert [str(w.message) for w in seen] == [
        "GPU available but not used. You can set it by doing `Trainer(accelerator='gpu')`."
    ]
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    assert sum(type(f).__name__ == "_DropLines" for f in logger.filters) == 1
