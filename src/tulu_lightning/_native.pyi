"""Type stubs for the Rust extension `tulu_lightning._native` (the reward verifiers are `tulu_rewards._native`)."""

import os

def version() -> str: ...
def pack_lengths(lengths: bytes, capacity: int) -> tuple[bytes, bytes]: ...

# --- byte-level BPE encoding (rust/src/bpe; used by tulu_lightning.chat) ---

class BpeEncoder:
    """The encoder of a serialized byte-level BPE `tokenizers` tokenizer, without a normalizer or with NFC
    (ValueError: what it does not support)."""

    def __init__(self, tokenizer_json: str) -> None: ...
    def encode_labelled(
        self, texts: list[str], spans: list[list[tuple[int, int]]], threads: int = 0
    ) -> tuple[bytes, bytes, bytes]:
        """(ids u32, labels i32, row offsets u64) as little-endian buffers."""

# --- n-gram decontamination (rust/src/decontam; facade tulu_lightning.decontam) ---

NORMALIZER_VERSION: int

# (instance, shared_ngrams, covered_tokens, longest_span, coverage)
_PairMatch = tuple[int, int, int, int, float]
# (line, id, matches)
_Contaminated = tuple[int, str | None, list[_PairMatch]]
# (line, message)
_Skipped = tuple[int, str]

def normalize_text(text: str) -> str: ...
def tokenize_text(text: str) -> list[str]: ...

class NgramIndex:
    @staticmethod
    def build(instances: list[tuple[str, str, list[str]]], n: int = 8, seed: int = 0) -> NgramIndex: ...
    @staticmethod
    def load(path: str | os.PathLike[str]) -> NgramIndex: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    @property
    def n(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def normalizer_version(self) -> int: ...
    @property
    def benchmarks(self) -> list[str]: ...
    @property
    def num_ngrams(self) -> int: ...
    @property
    def num_distinct_ngrams(self) -> int: ...
    def __len__(self) -> int: ...
    def instances(self) -> list[tuple[str, str, int, int]]: ...
    def match_documents(
        self, documents: list[list[str]], min_coverage: float = 0.5
    ) -> list[list[_PairMatch]]: ...

class JsonlScanner:
    def __init__(
        self,
        index: NgramIndex,
        path: str | os.PathLike[str],
        fields: list[str],
        id_field: str | None = "id",
        min_coverage: float = 0.5,
        skip_malformed: bool = True,
        clean_path: str | os.PathLike[str] | None = None,
        chunk_bytes: int = 8 << 20,
    ) -> None: ...
    def next_batch(self) -> tuple[int, int, list[_Contaminated], list[_Skipped]] | None: ...

def scan_json_records(
    index: NgramIndex,
    records: list[str],
    first_line: int,
    fields: list[str],
    id_field: str | None = "id",
    min_coverage: float = 0.5,
    skip_malformed: bool = True,
    source: str = "records",
) -> tuple[int, int, list[_Contaminated], list[_Skipped], list[bool]]: ...
def read_json_records(
    path: str | os.PathLike[str], fields: list[str], id_field: str | None = "id", skip_malformed: bool = True
) -> tuple[list[tuple[int, str | None, list[str]]], list[_Skipped]]: ...
def parse_json_records(
    records: list[str],
    fields: list[str],
    id_field: str | None = "id",
    first_line: int = 0,
    source: str = "records",
) -> list[tuple[int, str | None, list[str]]]: ...
