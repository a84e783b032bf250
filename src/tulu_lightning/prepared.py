"""The prepared-dataset store: a fit's rows validated, tokenized and masked once, with every core, then read in
place from its Arrow files by every rank of every later start.

    read      the sources (local JSONL/Parquet files, or a hub dataset through `datasets`) are copied into one
              Arrow file of raw rows, batch by batch: each row's JSON text and where it came from
    prepare   `datasets.map(batched=True, num_proc=data.num_proc)`: each batch is validated by
              `schemas.normalise_rows` (a bad row is reported as `<file>:<row>`, every one, before anything is
              written) and tokenized by `chat.tokenize_chats` (one batched encoding, no Jinja per prefix for the
              Tülu template; a byte-level BPE tokenizer by the native encoder, `rust/src/bpe`, which gives
              `tokenizers`' ids several times faster); over-long examples are dropped or cut (`data.keep_truncated`) and counted
    split     the validation rows are carved out as `data.split_validation` does, on the raw rows' order
    store     `<data.prepared_dir>/<kind>-<key>/`: `train/` and `val/` (Arrow, `input_ids`, `labels`,
              `length` per example; a pair's per side; an RLVR prompt's `prompt_ids` up to the generation prompt,
              `ground_truth`, `verifier` and `where`), `val_rows.jsonl` (the normalised validation rows, for
              generation accuracy) and `meta.json` (counts, what the key hashes) written last: a store without it
              is not one

The key hashes everything the tokens depend on: the sources (path, size and modification time of each file; a
hub dataset's commit, as `datasets` resolves it when streaming (`data.hub_streaming`, the default: its rows are
streamed into the raw file, never downloaded whole first), else the downloaded dataset's fingerprint), the
tokenizer (its vocabulary, merges and normaliser, special tokens and chat template — so the BOS rule too), max
length and truncation, the objective's settings, the validation split and schema, and `PREPARATION_VERSION`.
Same key: the store is opened, nothing is tokenized. Another key: another store. A store is written to a
temporary directory renamed into place, so a killed preparation never leaves a store that looks whole.

Rank discipline: only the first process of each node (local rank 0) prepares, holding a file lock next to the
store (on one shared filesystem, one of them writes and the others find it); the other ranks wait for
`meta.json` and read the same files. No rank holds the rows as Python objects (the validation rows and a tiny
model's tokenizer texts excepted: both small); a training process holds 24 bytes an example (offsets and
lengths) and reads each example's tokens when its batch is built (`Examples`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tulu_lightning.chat import IGNORE_INDEX, tokenize_chats, tokenize_prompts
from tulu_lightning.config import DataConfig
from tulu_lightning.errors import ChatFormatError, DataError
from tulu_lightning.files import PARTIAL_PREFIX, atomic_path, file_lock, parse_jsonl_line, write_text

PREPARATION_VERSION = 1  # bump when what a store holds for the same key changes
META, VAL_ROWS = "meta.json", "val_rows.jsonl"
RAW_BATCH = 10_000  # raw rows per Arrow record batch
SMALL_BYTES = 20_000_000  # training files under this size are prepared without progress bars
WAIT_SECONDS = 1.0  # how often a waiting rank looks for the store
# what one prepared row says happened to its raw row
KEPT, DROPPED, BAD, BLANK = 0, 1, 2, 3
# per kind of row: the conversations tokenized (each gives `<prefix>input_ids` and `<prefix>labels` columns), and
# what an example is called in the counts (`over_long_<unit>`, `dropped_<unit>`); a prompt (RLVR) is tokenized up
# to the generation prompt, into `prompt_ids`, and keeps what its reward needs (`PROMPT_FIELDS`)
CONVERSATIONS = {"sft": {"messages": ""}, "preference": {"chosen": "chosen_", "rejected": "rejected_"}}
UNITS = {"sft": "examples", "preference": "pairs", "prompt": "prompts"}
PROMPT_FIELDS = {"ground_truth": "ground_truth", "verifier": "dataset", "where": "where"}  # column: row field


def global_rank() -> int:
    """This process's rank in a distributed run (0 when alone), from the launcher's environment."""
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))


def prepares_here() -> bool:
    """Whether this process prepares a missing store: the first process of its node (`LOCAL_RANK` 0, or SLURM's
    local id 0), so a store on each node's own disk is written there; on one shared filesystem the file lock lets
    one of them write it and the others find it whole."""
    local = os.environ.get("LOCAL_RANK", os.environ.get("SLURM_LOCALID"))
    return (int(local) if local is not None else global_rank()) == 0


def default_root() -> Path:
    """Where stores live unless `data.prepared_dir` says: `$TULU_LIGHTNING_CACHE/prepared`, else
    `~/.cache/tulu_lightning/prepared` (next to `datasets`' own cache, shared by every run of the machine)."""
    cache = os.environ.get("TULU_LIGHTNING_CACHE") or Path.home() / ".cache" / "tulu_lightning"
    return Path(cache) / "prepared"


# --- what the tokens depend on ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """How the rows of one objective become examples: `kind` names the schema and the tokenization."""

    kind: str  # "sft" (chats) | "preference" (pairs) | "prompt" (RLVR prompts; over-long ones are dropped)
    max_length: int  # of an example (a prompt: the room left for its response is not counted)
    keep_truncated: bool
    last_turn_only: bool = False
    val_verifiable: bool = False  # validation rows need a ground truth (generation accuracy while training)
    default_verifier: str = "gsm8k"  # of rows with a ground truth that name none (canonical name)


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash of everything the tokenizer encodes with: its serialized pipeline (vocabulary, merges, normaliser,
    pre-tokenizer, added tokens), special tokens and chat template."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    state = {
        "class": type(tokenizer).__name__,
        "pipeline": backend.to_str() if backend is not None else repr(tokenizer.get_vocab()),
        "special": {k: str(v) for k, v in sorted(tokenizer.special_tokens_map.items())},
        "chat_template": tokenizer.chat_template,
    }
    return _hash(state)


def source_fingerprint(path: str) -> dict:
    stat = Path(path).stat()
    return {"path": str(Path(path).resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def store_key(data: DataConfig, recipe: Recipe, tokenizer, hub_fingerprint: str | None = None) -> str:
    sources = {
        "train_files": [source_fingerprint(p) for p in data.train_files],
        "val_files": [source_fingerprint(p) for p in data.val_files],
        "hub": [data.hub_dataset, data.hub_split, hub_fingerprint] if not data.train_files else None,
    }
    split = {
        "max_train_samples": data.max_train_samples,
        "val_fraction": data.val_fraction if not data.val_files else None,
        "seed": data.shuffle_seed,
    }
    return _hash(
        {
            "version": PREPARATION_VERSION,
            "sources": sources,
            "split": split,
            "recipe": asdict(recipe),
            "tokenizer": tokenizer_fingerprint(tokenizer),
        }
    )[:24]


def _hash(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


# --- the store ---------------------------------------------------------------------------------------------------


class Examples:
    """The examples of one prepared split: example i's token columns (`input_ids` and `labels`, or
    `chosen_input_ids`, ... for pairs; `prompt_ids` for prompts) as int32 arrays and its text columns (a prompt's
    `ground_truth`, `verifier`, `where`) as strings, read from the split's Arrow files.

    Only the per-example offsets are held in memory (8 bytes an example and column); each example's tokens are
    read with `pread` at their place in the file (found once through a memory map of its record batches). Reading
    through a memory map instead would keep every page read around the example (the kernel's read-ahead and
    fault-around) in the process's resident memory: a pass in packing order touches the whole file, so a 1M-row
    dataset would hold gigabytes; read this way, the pages stay in the page cache, shared, outside every rank's
    RSS. Pickles as its directory (DataLoader workers open the files themselves)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._index: tuple | None = None
        self._files: dict[int, int] = {}  # file descriptors, by file

    def __getstate__(self) -> dict:
        return {"directory": self.directory}

    def __setstate__(self, state: dict) -> None:
        self.directory, self._index, self._files = state["directory"], None, {}

    def __del__(self) -> None:
        for descriptor in getattr(self, "_files", {}).values():
            os.close(descriptor)

    def _load(self) -> tuple:
        """(batches, first example of each batch, lengths): per record batch, its file and, per token column, the
        byte offsets of its examples' tokens in that file."""
        if self._index is None:
            batches, starts, lengths = [], [0], []
            if self.directory.exists():  # an empty split is not saved
                state = json.loads((self.directory / "state.json").read_text())
                for number, entry in enumerate(state["_data_files"]):
                    for columns, batch_lengths in _batch_offsets(self.directory / entry["filename"]):
                        batches.append((number, columns))
                        starts.append(starts[-1] + len(batch_lengths))
                        lengths.append(batch_lengths)
            lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
            self._index = (batches, np.asarray(starts), lengths)
        return self._index

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per example (of both sides, for a pair)."""
        return self._load()[2]

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> dict[str, np.ndarray | str]:
        batches, starts, _ = self._load()
        if not 0 <= index < starts[-1]:
            raise IndexError(index)
        batch = int(np.searchsorted(starts, index, side="right")) - 1
        number, columns = batches[batch]
        descriptor = self._descriptor(number)
        i = index - starts[batch]
        item = {}
        for name, (ends, text) in columns.items():
            data = os.pread(descriptor, int(ends[i + 1] - ends[i]), int(ends[i]))
            item[name] = data.decode("utf-8") if text else np.frombuffer(data, dtype=np.int32)
        return item

    def _descriptor(self, number: int) -> int:
        if number not in self._files:
            state = json.loads((self.directory / "state.json").read_text())
            self._files[number] = os.open(
                self.directory / state["_data_files"][number]["filename"], os.O_RDONLY
            )
        return self._files[number]


def _batch_offsets(path: Path) -> Iterator[tuple[dict[str, tuple[np.ndarray, bool]], np.ndarray]]:
    """For each record batch of an Arrow stream file (as `datasets` writes them): per list (int32) or string
    column, the byte offsets in the file where each example's value starts (and the last one ends) and whether it
    is text; and the `length` column."""
    import pyarrow as pa

    mapped = pa.memory_map(str(path))
    base = mapped.read_buffer(
        1
    ).address  # where the file starts in memory: a buffer's address - base = offset
    mapped.seek(0)
    for batch in pa.ipc.open_stream(mapped):
        columns = {}
        for field, column in zip(batch.schema, batch.columns):
            if pa.types.is_list(field.type):
                assert field.type.value_type == pa.int32(), field
                values = column.values
                start = values.buffers()[1].address - base + 4 * values.offset
                columns[field.name] = (start + 4 * column.offsets.to_numpy().astype(np.int64), False)
            elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
                _, offsets, data = column.buffers()  # offsets into `data` (none: every string is empty)
                width = np.int64 if pa.types.is_large_string(field.type) else np.int32
                ends = np.frombuffer(offsets, dtype=width)[column.offset : column.offset + len(column) + 1]
                start = data.address - base if data is not None else 0
                columns[field.name] = (start + ends.astype(np.int64), True)
        yield columns, batch.column("length").to_numpy().astype(np.int64)
    mapped.close()


@dataclass
class Store:
    """A prepared store on disk: its training and validation examples, the normalised validation rows, and the
    counts of what was left out (`data/<name>` in MLflow)."""

    directory: Path
    counts: dict[str, int]
    prepared_here: bool = False  # this process wrote it (else it was found, or written by rank 0)

    @property
    def train(self) -> Examples:
        return Examples(self.directory / "train")

    @property
    def val(self) -> Examples:
        return Examples(self.directory / "val")

    def val_rows(self, limit: int | None = None) -> list[dict]:
        """The normalised validation rows (the first `limit` of them)."""
        with open(self.directory / VAL_ROWS, encoding="utf-8") as f:
            return [json.loads(line) for line in itertools.islice(f, limit)]


def open_store(directory: Path) -> Store | None:
    meta = directory / META
    if not meta.is_file():
        return None
    return Store(directory, json.loads(meta.read_text())["counts"])


def prepare(
    data: DataConfig, recipe: Recipe, tokenizer, root: str | Path | None = None, num_proc: int | None = None
) -> Store:
    """The store of `data` under `recipe` and `tokenizer`: found, or prepared by the node's first process while
    the others wait for it."""
    hub = None if data.train_files else _hub_dataset(data)
    key = store_key(data, recipe, tokenizer, hub.fingerprint if hub else None)
    root = Path(root) if root else default_root()
    directory = root / f"{recipe.kind}-{key}"
    store = open_store(directory)
    if store is not None:
        return store
    if not prepares_here():
        return _wait_for(directory)
    with file_lock(root / f".{directory.name}.lock"):
        store = open_store(directory)  # prepared by another process while this one waited for the lock
        if store is not None:
            return store
        for stale in root.glob(f"{PARTIAL_PREFIX}*-{directory.name}"):  # left by a killed preparation
            shutil.rmtree(stale, ignore_errors=True)
        counts = _write_store(directory, data, hub, recipe, tokenizer, key, num_proc)
    return Store(directory, counts, prepared_here=True)


def _wait_for(directory: Path, timeout: float | None = None) -> Store:
    """Wait for the node's first process to write the store (`TULU_LIGHTNING_PREPARE_TIMEOUT` seconds, default
    24 h; a launcher such as torchrun stops every process when that one fails)."""
    timeout = timeout or float(os.environ.get("TULU_LIGHTNING_PREPARE_TIMEOUT", 24 * 3600))
    deadline = time.monotonic() + timeout
    while (store := open_store(directory)) is None:
        if time.monotonic() > deadline:
            raise DataError(
                f"{directory}: the node's first process did not finish preparing the data within {timeout:.0f} s"
            )
        time.sleep(WAIT_SECONDS)
    return store


# --- writing a store -----------------------------------------------------------------------------------------


def _write_store(
    directory: Path, data: DataConfig, hub, recipe: Recipe, tokenizer, key: str, num_proc: int | None
) -> dict[str, int]:
    started = time.perf_counter()
    with atomic_path(directory) as work, _quiet_when_small(data):
        scratch = work / "scratch"  # raw rows and the map's own files, removed once the splits are saved
        rows = _validated_rows(scratch, data, hub, recipe, tokenizer, num_proc)
        counts = _save_split(rows.train, rows.train_order, work / "train", "", recipe)
        counts.update(_save_split(rows.val, rows.val_order, work / "val", "val_", recipe))
        num_proc = rows.num_proc
        with open(work / VAL_ROWS, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows.val_rows)
        del rows
        shutil.rmtree(scratch)
        lengths = Examples(work / "train").lengths
        meta = {
            "key": key,
            "counts": counts,
            f"train_{UNITS[recipe.kind]}": len(lengths),
            "train_tokens": int(lengths.sum()),
            "prepared_by_rank": global_rank(),
            "num_proc": num_proc,
            "seconds": round(time.perf_counter() - started, 2),
            "recipe": asdict(recipe),
        }
        write_text(work / META, json.dumps(meta, indent=1))
    return counts


@dataclass
class _Validated:
    """Every row of a config's data read, validated (and, given a tokenizer, tokenized): one prepared row per raw
    row of each split's sources, the splits' orders over them, and the normalised validation rows."""

    train: object  # datasets.Dataset of prepared rows (`_features`)
    train_order: np.ndarray
    val: object
    val_order: np.ndarray
    val_rows: list[dict]
    num_proc: int


def _validated_rows(
    scratch: Path, data: DataConfig, hub, recipe: Recipe, tokenizer, num_proc: int | None
) -> _Validated:
    """Read the sources into `scratch`, validate and tokenize every row (`tokenizer` None: validate only); raise
    `RowErrors` naming every bad row of both splits."""
    from tulu_lightning.schemas import RowErrors

    scratch.mkdir(parents=True, exist_ok=True)
    raw_train, sources = _raw_rows(
        scratch / "raw-train.arrow", data.train_files, hub, data, data.max_train_samples
    )
    train_order, val_order = _split(raw_train.num_rows, data)
    num_proc = num_proc or _default_num_proc(raw_train.num_rows)
    prepared = _prepare_rows(raw_train, sources, recipe, tokenizer, num_proc)
    problems = _problems(prepared)
    raw_val, val_sources, prepared_val = raw_train, sources, prepared
    if data.val_files:
        raw_val, val_sources = _raw_rows(scratch / "raw-val.arrow", data.val_files, None, data, None)
        prepared_val = _prepare_rows(raw_val, val_sources, recipe, tokenizer, 1)
        problems += _problems(prepared_val)
        val_order = np.arange(raw_val.num_rows)
    val_rows, val_problems = _validation_rows(raw_val, val_sources, val_order, recipe)
    reported = set(problems)
    problems += [p for p in val_problems if p not in reported]  # a row bad for both schemas: once
    if problems:
        raise RowErrors(problems)
    return _Validated(prepared, train_order, prepared_val, val_order, val_rows, num_proc)


def check_rows(
    data: DataConfig, recipe: Recipe, root: str | Path | None = None, num_proc: int | None = None
) -> tuple[int, int]:
    """Validate every row of `data` as `prepare` does (the same reading and the same validator), without a
    tokenizer and without storing anything: (training rows, validation rows), or `RowErrors` naming every bad
    row. What only tokenizing finds (a turn the chat template cannot locate) is left to `prepare`. The raw rows'
    copy is made next to the stores (`root`), as `prepare` makes it, and removed."""
    import tempfile

    hub = None if data.train_files else _hub_dataset(data)
    root = Path(root) if root else default_root()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".check-", dir=root) as scratch, _quiet_when_small(data):
        rows = _validated_rows(Path(scratch), data, hub, recipe, None, num_proc)
        status = rows.train.data.table.column("status").to_numpy()[rows.train_order]
        counts = int((status == KEPT).sum()), len(rows.val_rows)
        del rows  # its memory-mapped files, before their directory goes
    return counts


@contextmanager
def _quiet_when_small(data: DataConfig) -> Iterator[None]:
    """No progress bars for a small dataset (tests, demos): `datasets`' bars are turned off for the block."""
    import datasets

    small = bool(data.train_files) and sum(Path(p).stat().st_size for p in data.train_files) < SMALL_BYTES
    if not (small and datasets.is_progress_bar_enabled()):
        yield
        return
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        datasets.enable_progress_bars()


def _default_num_proc(num_rows: int) -> int:
    """Every core this process may use, once the data is large enough to repay starting the workers."""
    return max(1, len(os.sched_getaffinity(0))) if num_rows >= 20_000 else 1


@dataclass
class _Hub:
    # the split's rows in order: a streaming `IterableDataset`, or a downloaded `Dataset`
    rows: Iterable[dict]
    fingerprint: str


def _hub_dataset(data: DataConfig) -> _Hub:
    """The hub dataset's split (a local dataset directory too) and what identifies its rows for the key."""
    import datasets

    if not data.hub_dataset:
        from tulu_lightning.config import ConfigError

        raise ConfigError("data: set data.train_files or data.hub_dataset")
    try:
        if not data.hub_streaming:
            dataset = datasets.load_dataset(data.hub_dataset, split=data.hub_split)
            return _Hub(dataset, dataset._fingerprint)
        builder = datasets.load_dataset_builder(data.hub_dataset)
        rows = builder.as_streaming_dataset(split=data.hub_split)
    except (OSError, ValueError) as err:  # not reachable, no such dataset or split (datasets' own errors)
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(
            f"data.hub_dataset: cannot load {data.hub_dataset!r} split {data.hub_split!r}: {reason}"
        ) from None
    return _Hub(rows, _streamed_fingerprint(builder))


def _streamed_fingerprint(builder) -> str:
    """A streamed dataset's identity without reading it: `builder.hash`, which for a hub dataset is the commit
    its files were resolved at (`hf://datasets/<name>@<sha>/...`; a new commit, a new key), with the builder's
    config; and the path, size and modification time of each local data file (a local dataset directory, whose
    hash does not follow its files' contents)."""
    files = [path for paths in (builder.config.data_files or {}).values() for path in paths]
    local = [source_fingerprint(path) for path in files if "://" not in str(path) and Path(path).exists()]
    return _hash({"hash": builder.hash, "config": builder.config_id, "local_files": local})


def _raw_rows(path: Path, files: Sequence[str], hub: _Hub | None, data: DataConfig, limit: int | None):
    """The rows of `files` (else of the hub dataset) as one Arrow file of (`source`, `row`, `json`), streamed
    batch by batch; `limit` rows at most. Returns it memory-mapped, with the source names (`source` indexes
    them)."""
    import datasets
    import pyarrow as pa

    schema = pa.schema([("source", pa.int32()), ("row", pa.int64()), ("json", pa.large_binary())])
    sources = [str(p) for p in files] or [f"{data.hub_dataset}[{data.hub_split}]"]
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        batch: list[tuple[int, int, bytes]] = []
        for entry in itertools.islice(_source_lines(files, hub), limit):
            batch.append(entry)
            if len(batch) == RAW_BATCH:
                writer.write_batch(pa.record_batch([list(c) for c in zip(*batch)], schema=schema))
                batch = []
        if batch:
            writer.write_batch(pa.record_batch([list(c) for c in zip(*batch)], schema=schema))
    return datasets.Dataset.from_file(str(path)), sources


def _source_lines(files: Sequence[str], hub: _Hub | None) -> Iterator[tuple[int, int, bytes]]:
    """(source index, row number, JSON text) for every row of every file, else of the hub dataset."""
    for index, path in enumerate(files):
        path = Path(path)
        if not path.exists():
            raise DataError(f"data file not found: {path}")
        if path.suffix in (".jsonl", ".json"):
            with path.open("rb") as f:
                for number, raw in enumerate(f, start=1):
                    if not _blank(raw):
                        yield index, number, raw
        elif path.suffix == ".parquet":
            import pyarrow.parquet as pq

            number = 0
            for batch in pq.ParquetFile(path).iter_batches(batch_size=RAW_BATCH):
                for fields in batch.to_pylist():
                    number += 1
                    yield index, number, _json_bytes(fields)
        else:
            raise DataError(f"{path}: unsupported data file type {path.suffix!r} (use .jsonl or .parquet)")
    if not files and hub is not None:
        for number, fields in enumerate(hub.rows, start=1):
            yield 0, number, _json_bytes(fields)


def _blank(raw: bytes) -> bool:
    """A line `iter_jsonl` skips (whitespace only, Unicode's included)."""
    stripped = raw.strip()
    if not stripped or stripped[:1] == b"{":
        return not stripped
    return not raw.decode("utf-8", errors="replace").lstrip("\ufeff").strip()


def _json_bytes(fields: dict) -> bytes:
    return json.dumps(fields, ensure_ascii=False, default=str).encode()


def _split(num_rows: int, data: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """The raw rows' order for training and validation: `split_validation` on the raw rows."""
    from tulu_lightning.data import split_validation

    if data.val_files or data.val_fraction <= 0:
        return np.arange(num_rows), np.arange(0)
    train, val = split_validation(list(range(num_rows)), data.val_fraction, data.shuffle_seed)
    return np.asarray(train, dtype=np.int64), np.asarray(val, dtype=np.int64)


# --- the map: validate, tokenize, mask, limit --------------------------------------------------------------------


def _features(recipe: Recipe):
    import datasets

    tokens = datasets.Sequence(datasets.Value("int32"))
    if recipe.kind == "prompt":
        columns = {"prompt_ids": tokens, **{name: datasets.Value("string") for name in PROMPT_FIELDS}}
    else:
        columns = {
            f"{prefix}{name}": tokens
            for prefix in CONVERSATIONS[recipe.kind].values()
            for name in ("input_ids", "labels")
        }
    return datasets.Features(
        {
            **columns,
            "length": datasets.Value("int32"),
            "status": datasets.Value("int8"),
            "over_long": datasets.Value("bool"),
            "problem": datasets.Value("string"),
        }
    )


def _prepare_rows(raw, sources: list[str], recipe: Recipe, tokenizer, num_proc: int):
    """One prepared row per raw row, in order (status KEPT, DROPPED, BAD or BLANK)."""
    return raw.map(
        prepare_batch,
        batched=True,
        batch_size=1000,
        num_proc=num_proc if num_proc > 1 and raw.num_rows > 1 else None,
        remove_columns=raw.column_names,
        features=_features(recipe),
        # each worker process encodes in its own thread: the processes already use every core
        fn_kwargs={
            "sources": sources,
            "recipe": recipe,
            "tokenizer": tokenizer,
            "threads": 1 if num_proc > 1 else 0,
        },
        load_from_cache_file=False,
        desc="preparing rows",
    )


def prepare_batch(batch: dict, sources: list[str], recipe: Recipe, tokenizer, threads: int = 0) -> dict:
    """Validate one batch of raw rows (`schemas.normalise_rows`), tokenize the good ones (one call per side),
    apply the length limit to the example (both sides of a pair together, as `chat.LengthLimit`). A row's problem
    stays that row's: it is reported, the batch goes on."""
    from tulu_lightning.data import Row
    from tulu_lightning.schemas import Schema, normalise_rows

    n = len(batch["row"])
    out = {name: [np.zeros(0, dtype=np.int32)] * n for name in _features(recipe)}
    out.update({name: [""] * n for name in PROMPT_FIELDS if name in out})
    out.update({"length": [0] * n, "status": [BLANK] * n, "over_long": [False] * n, "problem": [None] * n})
    rows, position = [], {}  # the parsed rows, and each one's position in the batch by its `where`
    for i, (source, number, text) in enumerate(zip(batch["source"], batch["row"], batch["json"])):
        try:
            fields = parse_jsonl_line(text, sources[source], number)
        except DataError as err:
            out["status"][i], out["problem"][i] = BAD, str(err)
            continue
        if fields is not None:
            rows.append(Row(sources[source], number, fields))
            position[rows[-1].where] = i
    normalised, problems = normalise_rows(rows, Schema(recipe.kind, default_verifier=recipe.default_verifier))
    for problem in problems:
        i = position[problem.split(": ", 1)[0]]
        out["status"][i], out["problem"][i] = BAD, problem
    good = [position[row["where"]] for row in normalised]
    if tokenizer is None:  # validation only (`check_rows`)
        for i in good:
            out["status"][i] = KEPT
        return out
    if recipe.kind == "prompt":
        _prompts(normalised, good, recipe, tokenizer, out, threads)
        return out
    conversations = CONVERSATIONS[recipe.kind]
    sides = [_tokenize(tokenizer, normalised, field, recipe, out, good, threads) for field in conversations]
    for i, chats in zip(good, zip(*sides)):
        if out["status"][i] == BAD:  # a turn the template cannot locate
            continue
        if any(len(ids) > recipe.max_length for ids, _ in chats):
            out["over_long"][i] = True
            if not recipe.keep_truncated:
                out["status"][i] = DROPPED
                continue
            chats = [(ids[: recipe.max_length], labels[: recipe.max_length]) for ids, labels in chats]
        if not all((labels != IGNORE_INDEX).any() for _, labels in chats):  # a side with no trained token
            out["status"][i] = DROPPED
            continue
        for prefix, (ids, labels) in zip(conversations.values(), chats):
            out[f"{prefix}input_ids"][i], out[f"{prefix}labels"][i] = ids, labels
        out["length"][i], out["status"][i] = sum(len(ids) for ids, _ in chats), KEPT
    return out


def _prompts(
    rows: list[dict], positions: list[int], recipe: Recipe, tokenizer, out: dict, threads: int = 0
) -> None:
    """Prompt rows tokenized up to the generation prompt (one batched encoding), with what their reward needs; a
    prompt longer than `max_length` (no room left for the response) is dropped."""
    for i, row, ids in zip(
        positions, rows, tokenize_prompts(tokenizer, [row["messages"] for row in rows], threads)
    ):
        out["over_long"][i] = len(ids) > recipe.max_length
        if out["over_long"][i]:
            out["status"][i] = DROPPED
            continue
        out["prompt_ids"][i] = np.asarray(ids, dtype=np.int32)
        out["length"][i], out["status"][i] = len(ids), KEPT
        for column, field in PROMPT_FIELDS.items():
            out[column][i] = row[field]


def _tokenize(
    tokenizer, rows: list[dict], field: str, recipe: Recipe, out: dict, positions: list[int], threads: int = 0
) -> list:
    """(ids, labels) of each normalised row's conversation `field`; a row whose turns the chat template cannot
    locate is marked BAD (its problem named), the others are tokenized all the same."""
    conversations = [row[field] for row in rows]
    try:
        return tokenize_chats(tokenizer, conversations, recipe.last_turn_only, threads)
    except ChatFormatError:
        pass
    results = []
    for row, i in zip(rows, positions):
        try:
            results.append(tokenize_chats(tokenizer, [row[field]], recipe.last_turn_only, threads)[0])
        except ChatFormatError as err:
            out["status"][i], out["problem"][i] = BAD, f"{row['where']}: {field}: {err}"
            results.append((None, None))
    return results


def _problems(prepared) -> list[str]:
    import pyarrow.compute as pc

    problems = prepared.data.table.column("problem")
    return pc.drop_null(problems).to_pylist()


def _save_split(prepared, order: np.ndarray, directory: Path, prefix: str, recipe: Recipe) -> dict[str, int]:
    """The kept examples of the raw rows `order`, in that order, saved as Arrow; and the split's counts."""
    table = prepared.data.table
    status = table.column("status").to_numpy()[order]
    over_long = table.column("over_long").to_numpy()[order]
    kept = order[status == KEPT]
    if len(kept):  # `datasets` cannot load an empty split back: `Examples` reads a missing one as empty
        columns = [name for name in prepared.column_names if name not in ("status", "over_long", "problem")]
        prepared.select(kept).select_columns(columns).save_to_disk(str(directory))
    unit = UNITS[recipe.kind]
    return {
        f"{prefix}over_long_{unit}": int(over_long.sum()),
        f"{prefix}dropped_{unit}": int((status == DROPPED).sum()),
    }


def _validation_rows(
    raw, sources: list[str], order: np.ndarray, recipe: Recipe
) -> tuple[list[dict], list[str]]:
    """The validation rows, normalised with the validation schema (ground truths checked when they are needed)."""
    from tulu_lightning.data import Row
    from tulu_lightning.schemas import RowErrors, Schema, validate_splits

    rows = []
    for entry in raw.select(order):
        try:
            fields = parse_jsonl_line(entry["json"], sources[entry["source"]], entry["row"])
        except DataError:  # reported by the map already
            continue
        if fields is not None:
            rows.append(Row(sources[entry["source"]], entry["row"], fields))
    schema = Schema(recipe.kind, verifiable=recipe.val_verifiable, default_verifier=recipe.default_verifier)
    try:
        (normalised,) = validate_splits([(rows, schema)])
    except RowErrors as err:
        return [], err.problems
    return normalised, []
