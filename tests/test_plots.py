"""Training curves per stage, drawn from the run's metrics (the waywardness trade-off plot is tested with the
sweep in test_waywardness.py)."""

from __future__ import annotations

from tulu_lightning.plots import training_curves


def test_training_curves_one_column_per_stage_with_loss_and_validation_accuracy():
    figure = training_curves(
        {
            "sft": {
                "train/loss": [(1, 3.0), (2, 2.0)],
                "val/loss": [(2, 2.5)],
                "val/accuracy": [(0, 0.1), (2, 0.3)],
            },
            "dpo": {"train/loss": [(1, 0.69)]},
            "short": {"val/accuracy": [(5, 0.4)]},
        }
    )
    loss_row, accuracy_row = figure.axes[:3], figure.axes[3:]
    assert [axes.get_title() for axes in loss_row] == ["sft", "dpo", "short"]
    assert [len(axes.lines) for axes in loss_row] == [2, 1, 0]
    assert [t.get_text() for t in loss_row[2].texts] == ["no loss logged"]
    assert list(accuracy_row[0].lines[0].get_ydata()) == [0.1, 0.3]
    assert [t.get_text() for t in accuracy_row[1].texts] == ["no val/accuracy"]
    assert figure.get_suptitle() == "Training curves (3 stages)"


def test_training_curves_without_any_accuracy_have_one_row():
    figure = training_curves({"rm": {"train/loss": [(1, 0.7), (2, 0.6)]}})
    assert len(figure.axes) == 1 and figure.axes[0].get_ylabel() == "loss"
