"""What a command prints when it ends: one paragraph with where the outputs are, the key figures, the MLflow
run and the command line that opens it (`summary`). Light at import; the training bar is `progress_bar.py`.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path


def format_figure(value: float) -> str:
    """A number as a person reads it in a bar: 3 significant digits, k/M for large ones, 1.0e-05 for LRs."""
    if value != value or math.isinf(value):
        return str(value)
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e4:
        return f"{value / 1e3:.3g}k"
    if 0 < size < 1e-3:
        return f"{value:.1e}"
    return f"{value:.4g}"


# --- the closing summary ----------------------------------------------------------------------------------


def mlflow_ui_command(uri: str) -> str:
    """The command line that opens the store `uri` in MLflow's UI, from any directory (a relative SQLite path is
    made absolute)."""
    from tulu_lightning.tracking import sqlite_path

    path = sqlite_path(uri)
    if path is not None:
        uri = f"sqlite:///{path.resolve()}"
    return f"mlflow ui --backend-store-uri {uri}"


def run_address(uri: str, run_id: str) -> str:
    """Where the run opens in the UI (`mlflow ui`'s default address), or the run id alone if the store cannot
    be read."""
    from tulu_lightning.tracking import sqlite_path

    path = sqlite_path(uri)
    if path is not None and not path.is_file():  # never create a store just to name a run
        return f"run {run_id}"
    try:
        from mlflow import MlflowClient

        experiment_id = MlflowClient(uri).get_run(run_id).info.experiment_id
    except Exception:  # the summary never fails a finished command
        return f"run {run_id}"
    return f"http://127.0.0.1:5000/#/experiments/{experiment_id}/runs/{run_id}"


def summary(
    headline: str,
    outputs: dict[str, str | Path | None],
    figures: dict[str, float] | None = None,
    run_id: str | None = None,
    tracking_uri: str | None = None,
) -> str:
    """One paragraph: `headline`; the outputs (label -> path); the key figures; the MLflow run with the command
    that opens it."""
    parts = [headline.rstrip(".") + "."]
    where = [f"{label} {path}" for label, path in outputs.items() if path is not None]
    if where:
        parts.append("Outputs: " + "; ".join(where) + ".")
    if figures:
        parts.append("Key figures: " + ", ".join(f"{k} {format_figure(v)}" for k, v in figures.items()) + ".")
    command = ""
    if run_id and tracking_uri:
        parts.append(f"MLflow run {run_id} in {tracking_uri}; to look at it, run (then open the address):")
        # on a line of its own, never wrapped, so that it can be copied whole
        command = f"\n  {mlflow_ui_command(tracking_uri)}\n  {run_address(tracking_uri, run_id)}"
    elif tracking_uri is None:
        parts.append("Not tracked in MLflow (tracking.enabled=false).")
    text = textwrap.fill(" ".join(parts), width=110, break_on_hyphens=False, break_long_words=False)
    return text + command


def key_figures(metrics: dict[str, float], limit: int = 8) -> dict[str, float]:
    """The figures worth a line at the end of a fit: validation first, then the last training loss."""
    chosen = {k: v for k, v in sorted(metrics.items()) if k.startswith("val/")}
    for key in ("train/loss", "train/correct_frac", "train/score"):
        if key in metrics:
            chosen[key] = metrics[key]
    return dict(list(chosen.items())[:limit])


__all__ = ["format_figure", "key_figures", "mlflow_ui_command", "summary"]
