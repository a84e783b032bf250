"""The files commands read and write, shared by `tulu-rewards verify` and every tulu_lightning command
(`tulu_lightning.files` re-exports it). Nothing the user had is lost:

- no output path may resolve (after symlinks, or as a hard link) to an input, or hold one inside it;
- an existing output is refused unless the user passes `--overwrite`;
- every output is written to a temporary sibling and renamed into place, so an interrupted command never
  leaves a half-written file that looks complete;
- reading JSONL, a bad line is a `DataError` naming the file and line.

Standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tulu_rewards.errors import DataError, OutputError

PathLike = str | os.PathLike
PARTIAL_PREFIX = (
    ".partial-"  # an output being written: `.partial-<pid>-<name>`, renamed to `<name>` when whole
)


# --- reading ---------------------------------------------------------------------------------------------


def read_jsonl(path: PathLike) -> list[dict]:
    """The rows of a JSONL file: one JSON object a line, blank lines skipped, UTF-8 (a leading BOM allowed)."""
    return [row for _, row in iter_jsonl(path)]


def iter_jsonl(path: PathLike) -> Iterator[tuple[int, dict]]:
    """(line number, row) for each non-blank line of a JSONL file; a bad line is a `DataError` naming it."""
    path = Path(path)
    try:
        f = path.open("rb")
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from None
    with f:
        for line_number, raw in enumerate(f, start=1):
            row = parse_jsonl_line(raw, path, line_number)
            if row is not None:
                yield line_number, row


def parse_jsonl_line(raw: bytes, path: PathLike, line_number: int) -> dict | None:
    """One line of a JSONL file as a row (None for a blank line); a bad line is a `DataError` naming it."""
    if line_number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path}:{line_number}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start + 1})"
        ) from None
    if not line.strip():
        return None
    try:
        row = json.loads(line.rstrip("\r\n"))  # a truncated object is reported where the line ends
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{line_number}: invalid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(row, dict):
        raise DataError(f"{path}:{line_number}: expected a JSON object, got {_json_type(row)}")
    return row


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# --- outputs never overwrite inputs -------------------------------------------------------------------------


def _resolved(path: PathLike) -> Path:
    return Path(path).expanduser().resolve()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(outputs: Iterable[PathLike], inputs: Iterable[PathLike | None]) -> None:
    """Refuse when an output path is an input (after symlinks; hard links too) or an input lies inside it."""
    resolved_inputs = [(Path(p), _resolved(p)) for p in inputs if p is not None]
    for output in outputs:
        out = _resolved(output)
        for given, inp in resolved_inputs:
            if inp == out or _same_file(inp, out):
                raise OutputError(
                    f"{output}: writing it would overwrite the input {given}; choose another output"
                )
            if out in inp.parents:
                raise OutputError(
                    f"{output}: replacing it would delete the input {given}; choose another output"
                )


def prepare_output_file(path: PathLike, overwrite: bool = False, option: str = "--output") -> Path:
    """Refuse an existing output file unless `overwrite` (a directory always)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a directory")
    if path.exists() and not overwrite:
        raise OutputError(f"{option} {path}: already exists; choose another path or pass --overwrite")
    return path


# --- atomic writes ----------------------------------------------------------------------------------------


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """A temporary sibling of `path` to write (a file or a directory); renamed onto `path` when the block
    succeeds, removed when it fails. A directory already at `path` is replaced only once the new one is whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{path.name}")  # keeps the suffix writers read
    _remove(temporary)
    try:
        yield temporary
        _sync(temporary)
        if path.is_dir() and not path.is_symlink():
            previous = path.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-previous-{path.name}")
            os.replace(path, previous)
            os.replace(temporary, path)
            _remove(previous)
        else:
            os.replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise


@contextmanager
def atomic_open(path: PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """`open(path, mode)` that writes a temporary file, renamed onto `path` only when the block succeeds."""
    with (
        atomic_path(path) as temporary,
        open(temporary, mode, encoding=None if "b" in mode else encoding) as f,
    ):
        yield f


def write_text(path: PathLike, text: str) -> None:
    with atomic_open(path) as f:
        f.write(text)


def _sync(path: Path) -> None:
    """Flush a written file (or a directory's files) to disk before it is renamed into place."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else []
    for file in files:
        with open(file, "rb") as f:
            os.fsync(f.fileno())


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()
