"""N-gram decontamination with Tülu 3's rule, embedded: a thin facade over the Rust core.

Both sides go through the same normalizer (`normalize`, `tokenize`; NFKC, lowercase, punctuation removed,
whitespace collapsed, Unicode word boundaries). The benchmark side becomes an `NgramIndex` (64-bit seeded
hashes of every n-gram of every instance); the training side is streamed in bounded chunks and matched in
parallel in Rust with the GIL released. JSONL, JSONL.gz and JSONL.zst are read in Rust; Parquet is read
here with pyarrow in bounded record batches whose rows are handed to the Rust matcher as JSON.

The rule: a benchmark instance overlaps a training instance when more than `instance_threshold` (50%) of
its tokens are covered by its n-grams that occur in that training instance; a training dataset is
contaminated for a benchmark when more than `dataset_threshold` (2%) of the benchmark's instances overlap
one of its instances. A benchmark instance with fewer than n tokens has no n-grams and never overlaps.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tulu_lightning import _native
from tulu_lightning.config import TrackingConfig

NORMALIZER_VERSION: int = _native.NORMALIZER_VERSION
NgramIndex = _native.NgramIndex
TULU3_TRAIN_FIELDS = ["messages[role=user].content"]


def normalize(text: str) -> str:
    """The text as both sides see it: NFKC, lowercase, punctuation removed, whitespace collapsed."""
    return _native.normalize_text(text)


def tokenize(text: str) -> list[str]:
    """The word tokens n-grams are made of (the words of `normalize(text)` on Unicode word boundaries)."""
    return _native.tokenize_text(text)


@dataclass
class DataSpec:
    """A local file (JSONL, JSONL.gz, JSONL.zst or Parquet) and the fields of each record to match."""

    path: str
    fields: list[str] = field(default_factory=list)  # e.g. question | messages[role=user].content
    name: str | None = None  # defaults to the file name without its extensions
    id_field: str | None = "id"  # record ids for the report; the line (or row) number is always given

    @property
    def label(self) -> str:
        return self.name or Path(self.path).name.split(".")[0]


@dataclass
class DecontamConfig:
    benchmarks: list[DataSpec] = field(default_factory=list)  # files to match against: {path, fields, name}
    train: list[DataSpec] = field(default_factory=list)  # training files to check: {path, fields, name}
    out_dir: str = "outputs/decontam"  # reports, contaminated rows, index and clean copies
    n: int = 8  # n-gram length in tokens (Tülu 3: 8)
    seed: int = 0  # seed of the n-gram index's hashing (a saved index must match it)
    instance_threshold: float = 0.5  # fraction of a benchmark instance's tokens covered by shared n-grams
    dataset_threshold: float = 0.02  # fraction of a benchmark's instances overlapping the dataset
    train_fields: list[str] = field(
        default_factory=lambda: list(TULU3_TRAIN_FIELDS)
    )  # when a file names none
    skip_malformed: bool = True  # False: the first malformed JSON line is fatal
    write_clean: bool = True  # a copy of each training file without its contaminated rows
    index: str | None = None  # a saved index to use instead of reading the benchmarks
    benchmark_data: str | None = None  # local copies for suite benchmarks (eval's local_data); None: the hub
    chunk_mb: int = 8  # training text matched per parallel step (memory stays at a few chunks)
    parquet_batch_rows: int = 4096  # rows read from a Parquet file at a time
    threads: int | None = None  # default: RAYON_NUM_THREADS, else all cores
    progress: bool = True  # progress bars on stderr
    tracking: TrackingConfig = field(default_factory=lambda: TrackingConfig(experiment="decontamination"))


@dataclass
class PairMatch:
    instance: int  # index in the NgramIndex
    shared_ngrams: int
    covered_tokens: int
    longest_span: int
    coverage: float


@dataclass
class ContaminatedRow:
    line: int  # 1-based line (JSONL) or row (Parquet)
    id: str | None
    matches: list[PairMatch]


@dataclass
class FileScan:
    """What one training file's scan found."""

    path: str
    docs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    contaminated: list[ContaminatedRow] = field(default_factory=list)
    malformed: list[tuple[int, str]] = field(default_factory=list)

    def add(self, docs: int, nbytes: int, contaminated: list, malformed: list) -> None:
        self.docs += docs
        self.bytes += nbytes
        self.contaminated += [
            ContaminatedRow(line, row_id, [PairMatch(*m) for m in matches])
            for line, row_id, matches in contaminated
        ]
        self.malformed += malformed


def is_parquet(path: str | os.PathLike) -> bool:
    return str(path).endswith((".parquet", ".pq"))


def _columns_for(fields: list[str], id_field: str | None) -> list[str]:
    roots = [f.split(".")[0].split("[")[0] for f in fields]
    return list(dict.fromkeys(roots + ([id_field] if id_field else [])))


def _parquet_batches(
    path: str, fields: list[str], id_field: str | None, batch_rows: int, all_columns: bool
) -> Iterator[tuple[Any, list[str]]]:
    """Record batches of a Parquet file and their rows as JSON text (only the matched columns)."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    names = set(parquet.schema_arrow.names)
    for column in _columns_for(fields, None):
        if column not in names:
            raise ValueError(f"{path}: field {column!r} not found (columns: {', '.join(sorted(names))})")
    wanted = [c for c in _columns_for(fields, id_field) if c in names]
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=None if all_columns else wanted):
        rows = batch.select(wanted).to_pylist()
        yield batch, [json.dumps(row, ensure_ascii=False, default=str) for row in rows]


def read_benchmark(spec: DataSpec, skip_malformed: bool = True) -> list[tuple[str, list[str]]]:
    """(id, text segments) of every instance of a benchmark file; the id defaults to the line number."""
    if not spec.fields:
        raise ValueError(f"benchmark {spec.path}: no fields given (e.g. {spec.path}:question)")
    if is_parquet(spec.path):
        records, first = [], 1
        for _, rows in _parquet_batches(spec.path, spec.fields, spec.id_field, 4096, all_columns=False):
            records += _native.parse_json_records(rows, spec.fields, spec.id_field, first, spec.path)
            first += len(rows)
    else:
        records, _ = _native.read_json_records(spec.path, spec.fields, spec.id_field, skip_malformed)
    return [(row_id if row_id is not None else str(line), segments) for line, row_id, segments in records]


def build_index(
    benchmarks: list[DataSpec], n: int = 8, seed: int = 0, skip_malformed: bool = True
) -> NgramIndex:
    instances = []
    for spec in benchmarks:
        instances += [
            (spec.label, row_id, segments) for row_id, segments in read_benchmark(spec, skip_malformed)
        ]
    return NgramIndex.build(instances, n=n, seed=seed)


def load_index(path: str | os.PathLike, n: int | None = None, seed: int | None = None) -> NgramIndex:
    """A saved index; refused when it was built with another n or seed than the ones asked for."""
    index = NgramIndex.load(str(path))
    for name, want, got in (("n", n, index.n), ("seed", seed, index.seed)):
        if want is not None and want != got:
            raise ValueError(
                f"{path}: index built with {name}={got}, but {name}={want} was asked for; rebuild it"
            )
    return index


def scan_file(
    index: NgramIndex,
    spec: DataSpec,
    cfg: DecontamConfig,
    clean_path: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> FileScan:
    """Scans one training file; writes its clean rows to `clean_path` when given. A failed scan leaves no
    partial cleaned copy behind."""
    fields = spec.fields or cfg.train_fields
    result, start = FileScan(spec.path), time.perf_counter()
    try:
        if is_parquet(spec.path):
            _scan_parquet(index, spec, fields, cfg, clean_path, result, on_progress)
        else:
            scanner = _native.JsonlScanner(
                index, spec.path, fields, spec.id_field, cfg.instance_threshold, cfg.skip_malformed,
                clean_path, cfg.chunk_mb << 20,
            )  # fmt: skip
            while (batch := scanner.next_batch()) is not None:
                result.add(*batch)
                if on_progress:
                    on_progress(batch[0], batch[1])
    except BaseException:
        if clean_path and os.path.exists(clean_path):
            os.remove(clean_path)
        raise
    result.seconds = time.perf_counter() - start
    return result


def _scan_parquet(index, spec, fields, cfg, clean_path, result, on_progress) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer, first_row = None, 1
    try:
        batches = _parquet_batches(spec.path, fields, spec.id_field, cfg.parquet_batch_rows, bool(clean_path))
        for batch, rows in batches:
            docs, nbytes, contaminated, malformed, keep = _native.scan_json_records(
                index, rows, first_row, fields, spec.id_field, cfg.instance_threshold, cfg.skip_malformed,
                spec.path,
            )  # fmt: skip
            result.add(docs, nbytes, contaminated, malformed)
            if clean_path:
                writer = writer or pq.ParquetWriter(clean_path, batch.schema)
                writer.write_batch(batch.filter(pa.array(keep, type=pa.bool_())))
            first_row += len(rows)
            if on_progress:
                on_progress(docs, nbytes)
        if clean_path and writer is None:  # an empty file still gets an (empty) cleaned copy
            pq.write_table(pq.ParquetFile(spec.path).schema_arrow.empty_table(), clean_path)
    finally:
        if writer is not None:
            writer.close()


def decide(index: NgramIndex, scans: dict[str, FileScan], dataset_threshold: float) -> list[dict[str, Any]]:
    """Per dataset × benchmark: instances overlapping the dataset, their share, and the verdict."""
    instances = index.instances()
    totals: dict[str, int] = {}
    for benchmark, *_ in instances:
        totals[benchmark] = totals.get(benchmark, 0) + 1
    results = []
    for dataset, scan in scans.items():
        overlapping: dict[str, set[int]] = {name: set() for name in totals}
        for row in scan.contaminated:
            for match in row.matches:
                overlapping[instances[match.instance][0]].add(match.instance)
        for benchmark, total in totals.items():
            share = len(overlapping[benchmark]) / total
            results.append(
                {
                    "dataset": dataset,
                    "benchmark": benchmark,
                    "instances": total,
                    "overlapping_instances": len(overlapping[benchmark]),
                    "overlap_pct": 100.0 * share,
                    "contaminated": share > dataset_threshold,
                }
            )
    return results


__all__ = [
    "NORMALIZER_VERSION",
    "ContaminatedRow",
    "DataSpec",
    "DecontamConfig",
    "FileScan",
    "NgramIndex",
    "PairMatch",
    "build_index",
    "decide",
    "load_index",
    "normalize",
    "read_benchmark",
    "scan_file",
    "tokenize",
]
