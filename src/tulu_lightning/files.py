"""The files commands read and write: `tulu_rewards.files` (JSONL reading with file:line errors, outputs that
never overwrite an input, atomic writes), plus what only tulu_lightning's commands need: output directories,
local inputs among hub names, and a lock held by one process at a time.

Light at import (no torch): the CLI's commands use it before any model loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tulu_rewards.files import (
    PARTIAL_PREFIX,
    PathLike,
    atomic_open,
    atomic_path,
    check_outputs,
    iter_jsonl,
    parse_jsonl_line,
    prepare_output_file,
    read_jsonl,
    write_text,
)

from tulu_lightning.errors import OutputError

# --- output directories and inputs -----------------------------------------------------------------------


def existing_inputs(paths: Iterable[PathLike | None]) -> list[Path]:
    """The local paths among `paths` (hub names such as `org/model` are not files and are left out)."""
    return [Path(p) for p in paths if p is not None and Path(p).exists()]


def prepare_output_dir(path: PathLike, overwrite: bool = False, option: str = "--out") -> Path:
    """Create the output directory `path`; refuse a file, or a directory that holds files unless `overwrite`."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {path}: exists and is not a directory")
    if path.is_dir() and not overwrite and any(path.iterdir()):
        raise OutputError(
            f"{option} {path}: the directory is not empty; choose a new one or pass --overwrite to replace its outputs"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- one process at a time --------------------------------------------------------------------------------


@contextmanager
def file_lock(path: PathLike, blocking: bool = True, what: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (created if missing) for the block. Without `blocking`, a lock
    held by another process is an `OutputError` naming `what` it protects."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(f"{what or path}: another process is using it (it holds {path})") from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


__all__ = [
    "PARTIAL_PREFIX",
    "PathLike",
    "atomic_open",
    "atomic_path",
    "check_outputs",
    "existing_inputs",
    "file_lock",
    "iter_jsonl",
    "parse_jsonl_line",
    "prepare_output_dir",
    "prepare_output_file",
    "read_jsonl",
    "write_text",
]
