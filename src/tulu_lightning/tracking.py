"""MLflow tracking shared by every job: the resolved config, the git commit, metrics, artifacts.

The default store is MLflow's SQLite backend in the working directory (`sqlite:///mlflow.db`), so
`mlflow ui --backend-store-uri sqlite:///mlflow.db` shows the runs with no server to set up.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tulu_lightning.config import TrackingConfig, flatten, to_yaml
from tulu_lightning.errors import TrackingError

# MLflow 3 opens an experiment in the view its kind tag names: this one, the model-training view (not GenAI's).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
PARENT_RUN_TAG = "mlflow.parentRunId"  # the tag that nests a run under another in MLflow's UI
SYSTEM_METRICS_INTERVAL_S = 5.0

SERVER_TIMEOUT_S = 5.0  # a tracking server that does not answer within this is reported, not waited for

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


def run_tags(extra: dict[str, str] | None = None, parent_run_id: str | None = None) -> dict[str, str]:
    tags = {"tulu_lightning.version": _package_version()}
    if parent_run_id:
        tags[PARENT_RUN_TAG] = parent_run_id
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
    tracking: TrackingConfig,
    cfg: Any = None,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    run_id: str | None = None,
) -> Iterator[Any]:
    """An MLflow run for jobs that are not Lightning fits (decontamination, sweeps, evaluation); `run_id`
    continues an earlier one (an interrupted sweep's).

    Yields the `mlflow` module bound to the active run (or None when tracking is disabled).
    """
    if not tracking.enabled:
        yield None
        return
    import mlflow

    prepare_store(tracking)
    mlflow.set_tracking_uri(tracking.uri)
    mlflow.set_experiment(tracking.experiment)
    tags = run_tags(tags, tracking.parent_run_id)
    with (
        mlflow.start_run(
            run_id=run_id, run_name=None if run_id else tracking.run_name or run_name, tags=tags
        ) as run,
        system_metrics(tracking, run.info.run_id),
    ):
        if cfg is not None:
            log_config(mlflow.MlflowClient(), run.info.run_id, cfg)
        yield mlflow


def lightning_logger(
    tracking: TrackingConfig,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    run_id: str | None = None,
):
    """Lightning's MLFlowLogger for a fit, tagged with the git commit and package version; with `run_id`, it
    logs into that existing run (a resumed fit)."""
    if not tracking.enabled:
        return None
    from lightning.pytorch.loggers import MLFlowLogger

    prepare_store(tracking)
    return MLFlowLogger(
        experiment_name=tracking.experiment,
        run_name=tracking.run_name or run_name,
        tracking_uri=tracking.uri,
        tags=run_tags(tags, tracking.parent_run_id),
        log_model=False,
        run_id=run_id,
    )


def readable_run_name(*parts: str | None) -> str:
    """`sft · sft_8b · 11-30 14:05`: the parts given (objective, config name...; repeats once), then the time."""
    import time

    return " · ".join(dict.fromkeys([*(p for p in parts if p), time.strftime("%m-%d %H:%M")]))


# --- what a run logs besides metrics -----------------------------------------------------------------------


@contextmanager
def system_metrics(tracking: TrackingConfig, run_id: str | None) -> Iterator[None]:
    """MLflow's system metrics (CPU, memory, disk, network; GPU when there is one) sampled into `run_id` while
    the block runs (`system/...` in the run's System metrics tab)."""
    if run_id is None or not tracking.enabled or not tracking.system_metrics:
        yield
        return
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)  # its start/stop lines at INFO
    monitor = SystemMetricsMonitor(
        run_id, sampling_interval=SYSTEM_METRICS_INTERVAL_S, tracking_uri=tracking.uri, resume_logging=True
    )
    monitor.start()
    try:
        yield
    finally:
        monitor.finish()
        _publish_last_sample(monitor)


def _publish_last_sample(monitor: Any) -> None:
    # MLflow's monitor drops the sample it took last when it stops; a run shorter than one interval would show none.
    try:
        metrics = monitor.aggregate_metrics()
        if metrics:
            monitor.publish_metrics(metrics)
            monitor.mlflow_logger.flush()
    except Exception as err:  # a monitor's internals changed: the run keeps the samples it has
        logging.getLogger(__name__).debug("system metrics: last sample not logged (%s)", err)


def file_dataset(path: str | Path, context: str) -> Any:
    """A local JSONL/Parquet/TSV data file as an MLflow dataset input: its source (the absolute path), its digest
    (SHA-256 of its bytes, read in blocks) and its rows (the non-empty lines of a text file; Parquet's own count)."""
    import hashlib
    import json

    from mlflow.entities import Dataset, DatasetInput, InputTag

    path = Path(path).resolve()
    digest, rows, last = hashlib.sha256(), 0, b"\n"
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
            rows += block.count(b"\n")
            last = block[-1:]
    rows += last != b"\n"  # a last line without its newline
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(path).metadata.num_rows
    dataset = Dataset(
        name=path.name,
        digest=digest.hexdigest()[:16],
        source_type="local",
        source=json.dumps({"uri": str(path)}),
        profile=json.dumps({"num_rows": rows, "bytes": path.stat().st_size}),
    )
    return DatasetInput(dataset, tags=[InputTag("mlflow.data.context", context)])


def hub_dataset(name: str, split: str, context: str) -> Any:
    """A hub dataset named in a config as an MLflow dataset input (its rows are not known until it is read)."""
    import hashlib
    import json

    from mlflow.entities import Dataset, DatasetInput, InputTag

    dataset = Dataset(
        name=f"{name}:{split}",
        digest=hashlib.sha256(f"{name}:{split}".encode()).hexdigest()[:16],
        source_type="hugging_face",
        source=json.dumps({"path": name, "split": split}),
    )
    return DatasetInput(dataset, tags=[InputTag("mlflow.data.context", context)])


def log_datasets(client: Any, run_id: str, data: Any) -> None:
    """A config's data section as the run's dataset inputs (the run's Datasets: training and validation)."""
    inputs = [file_dataset(p, "training") for p in data.train_files if Path(p).is_file()]
    inputs += [file_dataset(p, "validation") for p in data.val_files if Path(p).is_file()]
    if data.hub_dataset and not data.train_files:
        inputs.append(hub_dataset(data.hub_dataset, data.hub_split, "training"))
    if inputs:
        client.log_inputs(run_id, datasets=inputs)


def log_counts(client: Any, run_id: str, counts: dict[str, Any]) -> None:
    """Counters (rows kept, dropped, cut) as the run's tags `data.<name>`: figures, not curves."""
    for name, value in counts.items():
        client.set_tag(run_id, f"data.{name}", str(value))


def log_samples(client: Any, run_id: str, step: int, columns: dict[str, list[Any]]) -> None:
    """One validation's prompts, generations and verdicts as a table artifact (`samples/step_<step>.json`,
    shown in the run's Artifacts as a table)."""
    client.log_table(run_id, data=columns, artifact_file=f"samples/step_{step:06d}.json")


def log_exported_model(
    client: Any,
    run_id: str,
    model_dir: Path,
    name: str,
    copy_files: bool,
    params: dict[str, str] | None = None,
) -> str:
    """The exported Hugging Face directory as an MLflow 3 logged model of the run (the run's Models, the
    experiment's Models): its files copied into the artifact store when `copy_files`, else a model whose
    `model_dir` tag points at the export (nothing copied). Returns the model's id."""
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus

    run = client.get_run(run_id)
    model = client.create_logged_model(
        run.info.experiment_id,
        name=name,
        source_run_id=run_id,
        tags={
            "model_dir": str(model_dir.resolve()),
            "format": "huggingface",
            "files_logged": str(copy_files).lower(),
        },
        params=params,
        model_type="transformers",
    )
    if copy_files:
        client.log_model_artifacts(model.model_id, str(model_dir))
    client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
    return model.model_id


# --- a store that answers, created once -------------------------------------------------------------------


def prepare_store(tracking: TrackingConfig) -> None:
    """Make sure the store answers and holds the experiment before MLflow or Lightning use it.

    A server is asked once with a short timeout (MLflow itself would retry for minutes). A new SQLite store is
    created, migrated and given the experiment under a file lock, so runs started at once do not race on its
    schema (alembic) or on creating the experiment.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    _quiet_mlflow()
    uri = tracking.uri
    if uri.startswith(("http://", "https://")):
        check_server(uri)
    try:
        with _store_lock(uri), _fail_fast_http():
            client = MlflowClient(tracking_uri=uri)
            experiment = client.get_experiment_by_name(tracking.experiment)
            if experiment is None:
                client.create_experiment(
                    tracking.experiment, artifact_location=_artifact_root(uri), tags=EXPERIMENT_KIND
                )
            elif experiment.lifecycle_stage != "deleted" and not experiment.tags.get("mlflow.experimentKind"):
                client.set_experiment_tag(experiment.experiment_id, *next(iter(EXPERIMENT_KIND.items())))
            if experiment is not None and experiment.lifecycle_stage == "deleted":
                raise TrackingError(
                    f"tracking.experiment: {tracking.experiment!r} is deleted in {uri}; restore it "
                    "(mlflow experiments restore) or choose another name"
                )
    except (MlflowException, SQLAlchemyError, OSError) as err:  # e.g. a file that is not a database
        raise TrackingError(f"tracking.uri {uri}: {_first_line(err)}") from None


def check_server(uri: str, timeout: float = SERVER_TIMEOUT_S) -> None:
    """Fail with one line when no HTTP server answers at `uri` within `timeout` seconds."""
    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout).close()
    except urllib.error.HTTPError:
        return  # something answers; MLflow's own calls say what, if it is not an MLflow server
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise TrackingError(
            f"tracking.uri: no MLflow server answers at {uri} ({reason}); start one "
            "(mlflow server --backend-store-uri sqlite:///mlflow.db) or use tracking.uri=sqlite:///mlflow.db"
        ) from None


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///path` URI (None for other stores and in-memory SQLite)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def _artifact_root(uri: str) -> str | None:
    """A SQLite store's artifacts beside its database (`<dir>/mlruns`), wherever the command runs from (MLflow's
    own default is ./mlruns of the working directory); other stores choose their own."""
    path = sqlite_path(uri)
    return str(path.resolve().parent / "mlruns") if path is not None else None


@contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    from tulu_lightning.files import file_lock

    with file_lock(path.with_name(path.name + ".lock")):
        yield


@contextmanager
def _fail_fast_http() -> Iterator[None]:
    """MLflow's HTTP calls without retries and with a short timeout, unless the user set their own."""
    settings = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(int(SERVER_TIMEOUT_S)),
    }
    added = {key: value for key, value in settings.items() if key not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


# --- runs that died ----------------------------------------------------------------------------------------


def continue_run(tracking: TrackingConfig, run_id: str, note: str) -> bool:
    """Reopen MLflow run `run_id` for a resumed fit (True), or False when this store does not hold it. A run
    left RUNNING was killed: that is recorded in its `tulu_lightning.interrupted` tag."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking.uri)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        return False
    if run.info.lifecycle_stage == "deleted":
        return False
    if run.info.status == "RUNNING":
        previous = run.data.tags.get("tulu_lightning.interrupted")
        client.set_tag(run_id, "tulu_lightning.interrupted", f"{previous}; {note}" if previous else note)
    client.update_run(run_id, status="RUNNING")
    return True


def mark_killed_runs(tracking: TrackingConfig, output_dir: Path, keep: str | None = None) -> list[str]:
    """Mark KILLED the runs of `output_dir` still RUNNING (their process is gone: the caller holds the output
    directory's lock), except `keep`. Returns their ids."""
    from mlflow import MlflowClient

    where = str(output_dir.resolve())
    if "'" in where:
        return []  # not expressible in a filter string; such runs keep their status
    client = MlflowClient(tracking_uri=tracking.uri)
    experiment = client.get_experiment_by_name(tracking.experiment)
    if experiment is None:
        return []
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.output_dir = '{where}' and attributes.status = 'RUNNING'",
    )
    killed = [run.info.run_id for run in runs if run.info.run_id != keep]
    for run_id in killed:
        client.set_terminated(run_id, status="KILLED")
    return killed


def _quiet_mlflow() -> None:
    # Alembic prints its schema migrations at INFO the first time a SQLite store is created.
    for name in ("alembic", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)


def save_figure(figure: Any, path: str | Path, client: Any = None, run_id: str | None = None) -> Path:
    """Write a matplotlib figure to `path` (a PNG next to the outputs) and, with `client` and `run_id`, log it to
    that MLflow run with `log_figure` (shown in the run's artifacts, under its file name)."""
    from tulu_lightning.files import atomic_path

    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format=path.suffix.lstrip(".") or "png", dpi=120)
    if client is not None and run_id is not None:
        client.log_figure(run_id, figure, path.name)
    return path
