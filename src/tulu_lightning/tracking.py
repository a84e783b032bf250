"""MLflow tracking shared by every job: the resolved config, the git commit, metrics, artifacts.

The default store is MLflow's SQLite backend in the working directory (`sqlite:///mlflow.db`), so
`mlflow ui --backend-store-uri sqlite:///mlflow.db` shows the runs with no server to set up.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tulu_lightning.config import TrackingConfig, flatten, to_yaml

# MLflow limits a param value to a few thousand characters; longer values are cut.
_MAX_PARAM_CHARS = 500


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The commit of the source tree this package runs from (or `cwd`), with '-dirty' if modified."""
    where = Path(cwd) if cwd else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty else "")


def run_tags(extra: dict[str, str] | None = None) -> dict[str, str]:
    tags = {"tulu_lightning.version": _package_version()}
    commit = git_commit()
    if commit:
        tags["mlflow.source.git.commit"] = commit
    tags.update(extra or {})
    return tags


def _package_version() -> str:
    from tulu_lightning import __version__

    return __version__


def log_config(client: Any, run_id: str, cfg: Any) -> None:
    """Log a dataclass config as params (dotted keys) and as `config.yaml`."""
    for key, value in flatten(cfg).items():
        client.log_param(run_id, key, str(value)[:_MAX_PARAM_CHARS])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(to_yaml(cfg))
        client.log_artifact(run_id, str(path))


@contextmanager
def mlflow_run(
    tracking: TrackingConfig, cfg: Any = None, run_name: str | None = None, tags: dict[str, str] | None = None
) -> Iterator[Any]:
    """An MLflow run for jobs that are not Lightning fits (decontamination, sweeps, evaluation).

    Yields the `mlflow` module bound to the active run (or None when tracking is disabled).
    """
    if not tracking.enabled:
        yield None
        return
    import mlflow

    _quiet_mlflow()
    mlflow.set_tracking_uri(tracking.uri)
    mlflow.set_experiment(tracking.experiment)
    with mlflow.start_run(run_name=tracking.run_name or run_name, tags=run_tags(tags)) as run:
        if cfg is not None:
            log_config(mlflow.MlflowClient(), run.info.run_id, cfg)
        yield mlflow


def lightning_logger(
    tracking: TrackingConfig, run_name: str | None = None, tags: dict[str, str] | None = None
):
    """Lightning's MLFlowLogger for a fit, tagged with the git commit and package version."""
    if not tracking.enabled:
        return None
    from lightning.pytorch.loggers import MLFlowLogger

    _quiet_mlflow()
    return MLFlowLogger(
        experiment_name=tracking.experiment,
        run_name=tracking.run_name or run_name,
        tracking_uri=tracking.uri,
        tags=run_tags(tags),
        log_model=False,
    )


def _quiet_mlflow() -> None:
    # Alembic prints its schema migrations at INFO the first time a SQLite store is created.
    for name in ("alembic", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)
