"""The plots a run logs (matplotlib, drawn on `Figure` objects: no pyplot state, no display needed).

- `accuracy_vs_f1`: the Prompt Waywardness trade-off (Khashabi et al., 2022, fig. 2): task accuracy against the
  projection's F1, one colour per γ; the band of accuracies within 2 points of the unconstrained prompt's (γ = 0),
  the paper's "within 2 % of the best" reading, and the F1 threshold of the selection rule are marked. Points that
  coincide are drawn hollow, spread apart a little and labelled `×n`, so none hides another.
- `training_curves`: per stage (a run), its training loss and, where logged, its validation accuracy by step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

ACCURACY_BAND = 0.02  # the paper: prompts that keep accuracy within 2 % of the best


def accuracy_vs_f1(results: Sequence[Any], f1_threshold: float, band: float = ACCURACY_BAND) -> Figure:
    """Scatter of `results` (each with `.gamma`, `.f1`, `.accuracy`) as in the module docstring."""
    figure = Figure(figsize=(7, 4.8), layout="constrained")
    axes = figure.add_subplot()
    unconstrained = [r.accuracy for r in results if r.gamma == 0]
    if unconstrained:
        reference = sum(unconstrained) / len(unconstrained)
        axes.axhspan(
            reference - band, reference, color="tab:green", alpha=0.12,
            label=f"within {band:.0%} of γ = 0 accuracy ({reference:.3f})",
        )  # fmt: skip
        axes.axhline(reference, color="tab:green", linewidth=0.8)
    axes.axvline(f1_threshold, color="grey", linestyle="--", linewidth=0.8, label=f"F1 = {f1_threshold:g}")

    counts = Counter((round(r.f1, 3), round(r.accuracy, 3)) for r in results)
    seen: Counter = Counter()
    gammas = sorted({r.gamma for r in results})
    for index, gamma in enumerate(gammas):
        colour = f"C{index % 10}"
        xs, ys = [], []
        for r in (r for r in results if r.gamma == gamma):
            point = (round(r.f1, 3), round(r.accuracy, 3))
            offset = _spread(seen[point], counts[point])
            seen[point] += 1
            xs.append(r.f1 + offset)
            ys.append(r.accuracy)
        axes.scatter(
            xs, ys, s=46, facecolors="none", edgecolors=colour, linewidths=1.6, label=f"γ = {gamma:g}"
        )
    for (f1, accuracy), count in counts.items():
        if count > 1:
            axes.annotate(f"×{count}", (f1, accuracy), xytext=(8, 6), textcoords="offset points", fontsize=8)

    shown = [r.accuracy for r in results] + ([reference - band, reference] if unconstrained else [])
    low, high = min(shown), max(shown)
    axes.set_ylim(low - 0.01, high + 0.01)  # no point on the frame
    axes.set_xlim(-0.03, 1.05)
    axes.set_xlabel("projection F1 (projected prompt vs target text)")
    axes.set_ylabel("task accuracy")
    axes.set_title("Prompt waywardness: accuracy vs faithfulness of the projected prompt")
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    return figure


def _spread(index: int, count: int, step: float = 0.008) -> float:
    """The x offset of the `index`-th of `count` coinciding points: centred, `step` apart."""
    return (index - (count - 1) / 2) * step


def training_curves(stages: dict[str, dict[str, list[tuple[int, float]]]]) -> Figure:
    """One column per stage (name -> metric -> [(step, value)]): its `train/loss` (and `val/loss`) above, its
    `val/accuracy` below when any stage logged one."""
    with_accuracy = any(history.get("val/accuracy") for history in stages.values())
    rows = 2 if with_accuracy else 1
    columns = max(1, len(stages))
    figure = Figure(figsize=(4.2 * columns, 3.2 * rows), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    for column, (stage, history) in enumerate(stages.items()):
        loss_axes = grid[0][column]
        for key, style in (("train/loss", "-"), ("val/loss", "o--")):
            if history.get(key):
                steps, values = zip(*history[key])
                loss_axes.plot(steps, values, style, markersize=4, label=key)
        loss_axes.set_title(stage)
        loss_axes.set_xlabel("step")
        loss_axes.set_ylabel("loss")
        loss_axes.grid(alpha=0.3)
        if loss_axes.lines:
            loss_axes.legend(fontsize=8)
        else:  # a run shorter than trainer.log_every_n_steps
            loss_axes.text(
                0.5, 0.5, "no loss logged", ha="center", va="center", transform=loss_axes.transAxes
            )
        if with_accuracy:
            accuracy_axes = grid[1][column]
            if history.get("val/accuracy"):
                steps, values = zip(*history["val/accuracy"])
                accuracy_axes.plot(steps, values, "o-", markersize=4, color="tab:green")
            else:
                accuracy_axes.text(0.5, 0.5, "no val/accuracy", ha="center", va="center",
                                   transform=accuracy_axes.transAxes)  # fmt: skip
            accuracy_axes.set_xlabel("step")
            accuracy_axes.set_ylabel("validation accuracy")
            accuracy_axes.set_ylim(-0.02, 1.02)
            accuracy_axes.grid(alpha=0.3)
    figure.suptitle("Training curves" + (f" ({len(stages)} stages)" if len(stages) > 1 else ""))
    return figure


CURVE_METRICS = ("train/loss", "val/loss", "val/accuracy")


def run_histories(client: Any, run_ids: dict[str, str]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Stage name -> metric -> [(step, value)] read back from MLflow (`client`: an `MlflowClient`)."""
    return {
        stage: {
            key: [(m.step, m.value) for m in client.get_metric_history(run_id, key)] for key in CURVE_METRICS
        }
        for stage, run_id in run_ids.items()
    }


__all__ = ["ACCURACY_BAND", "accuracy_vs_f1", "run_histories", "training_curves"]
