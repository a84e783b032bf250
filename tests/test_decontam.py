"""Decontamination core vs a brute-force Python implementation of Tülu 3's rule."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tulu_lightning import decontam
from tulu_lightning._native import JsonlScanner, NgramIndex

DATA = Path(__file__).parent / "data" / "decontam"
USER_TURNS = ["messages[role=user].content"]


# ---- the brute-force reference: token tuples in Python sets, no hashing ----


def reference_ngrams(segments: list[str], n: int) -> list[tuple[int, tuple[str, ...]]]:
    """(first token position, n-gram) of each n-gram; positions run across segments, n-grams do not."""
    out, offset = [], 0
    for segment in segments:
        tokens = decontam.tokenize(segment)
        out += [(offset + i, tuple(tokens[i : i + n])) for i in range(len(tokens) - n + 1)]
        offset += len(tokens)
    return out


def reference_match(
    benchmark: list[list[str]], document: list[str], n: int, min_coverage: float
) -> list[tuple]:
    train = {gram for _, gram in reference_ngrams(document, n)}
    matches = []
    for i, segments in enumerate(benchmark):
        num_tokens = sum(len(decontam.tokenize(s)) for s in segments)
        shared = [(start, gram) for start, gram in reference_ngrams(segments, n) if gram in train]
        covered = {p for start, _ in shared for p in range(start, start + n)}
        if not covered:
            continue
        longest = run = 0
        for p in range(num_tokens):
            run = run + 1 if p in covered else 0
            longest = max(longest, run)
        coverage = len(covered) / num_tokens
        if coverage > min_coverage:
            matches.append((i, len({gram for _, gram in shared}), len(covered), longest, coverage))
    return matches


def build(benchmark: list[list[str]], n: int) -> NgramIndex:
    return NgramIndex.build([("bench", str(i), segs) for i, segs in enumerate(benchmark)], n=n, seed=123)


# ---- normalizer ----

GOLDEN = [
    ("Hello, World!", "hello world", ["hello", "world"]),
    ("x^2 + 3x = 10", "x 2 3x 10", ["x", "2", "3x", "10"]),
    ("don't  stop\n\tnow", "don t stop now", ["don", "t", "stop", "now"]),
    ("ﬁnance ＡＢＣ １２３", "finance abc 123", ["finance", "abc", "123"]),
    ("naïve café", "naïve café", ["naïve", "café"]),
    ("北京 是", "北京 是", ["北", "京", "是"]),
    ("emoji 🎉 gone", "emoji gone", ["emoji", "gone"]),
    ("", "", []),
    ("...!?", "", []),
]


@pytest.mark.parametrize(("text", "normalized", "tokens"), GOLDEN)
def test_normalizer_golden(text, normalized, tokens):
    assert decontam.NORMALIZER_VERSION == 1  # a change of the golden values needs a new version
    assert decontam.normalize(text) == normalized
    assert decontam.tokenize(text) == tokens


@given(st.text(max_size=200))
@settings(max_examples=500, deadline=None, derandomize=True)
def test_normalizer_is_idempotent_and_tokens_are_its_words(text):
    normalized = decontam.normalize(text)
    assert normalized == normalized.strip() and "  " not in normalized
    assert decontam.normalize(normalized) == normalized
    assert decontam.tokenize(text) == decontam.tokenize(normalized)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
@settings(max_examples=300, deadline=None)
def test_ascii_tokens(text):
    """ASCII text takes a fast path in Rust; it must agree with the definition."""
    assert decontam.tokenize(text) == [
        t for t in "".join(c if c.isalnum() else " " for c in text.lower()).split()
    ]


# ---- matching vs the reference ----

WORDS = ["the", "cat", "sat", "on", "mat", "Dog", "ran", "42", "über", "ÉTÉ", "x"]
segment_st = st.lists(st.sampled_from(WORDS), max_size=25).map(" ".join)
document_st = st.lists(segment_st, min_size=0, max_size=3)


@given(
    benchmark=st.lists(document_st, min_size=1, max_size=6),
    documents=st.lists(document_st, min_size=1, max_size=6),
    n=st.integers(1, 5),
    min_coverage=st.sampled_from([0.0, 0.25, 0.5, 0.9]),
)
@settings(max_examples=300, deadline=None)
def test_matches_equal_brute_force_on_random_data(benchmark, documents, n, min_coverage):
    index = build(benchmark, n)
    got = index.match_documents(documents, min_coverage)
    assert got == [reference_match(benchmark, doc, n, min_coverage) for doc in documents]


@given(
    question=st.lists(st.sampled_from(WORDS), min_size=8, max_size=40).map(" ".join),
    prefix=st.text(max_size=30),
    suffix=st.text(max_size=30),
)
@settings(max_examples=150, deadline=None)
def test_near_copies_are_caught(question, prefix, suffix):
    """Case, punctuation and surrounding text do not hide a copy (paraphrase-free)."""
    index = build([[question]], 8)
    copy = f"{prefix} {question.upper().replace(' ', ', ')}!? {suffix}"
    [[match]] = index.match_documents([[copy]])
    assert match[0] == 0 and match[4] == 1.0


def test_hand_made_cases():
    question = "Natalia sold clips to 48 of her friends in April and then she sold half as many clips in May"
    index = build([[question], ["too short"], [""]], 8)
    unrelated = "Write a poem about the ocean, the moon and the quiet of the night for my friends in April"
    half = " ".join(question.split()[:11])  # 11 of 20 tokens: 55% > 50%
    less = " ".join(question.split()[:10])  # 10 of 20 tokens: 50%, not more than 50%
    got = index.match_documents([[unrelated], [half], [less], ["too short"], [""], []])
    assert got[0] == [] and got[2] == [] and got[3] == [] and got[4] == [] and got[5] == []
    assert got[1] == [(0, 4, 11, 11, 11 / 20)]


def test_unicode_empty_and_very_long_documents():
    question = "Σπύρος ﬁxed the ＣＡＦÉ's naïve bug — and 東京 kept 42 cats, didn't it"
    filler = " ".join(f"word{i}" for i in range(200_000))  # ~1.5 MB of unrelated text
    long_doc = f"{filler} {question.lower()} {filler}"
    index = build([[question]], 8)
    got = index.match_documents([[long_doc], [""], [filler]])
    expected = reference_match([[question]], [question.lower()], 8, 0.5)
    assert got == [expected, [], []] and expected[0][4] == 1.0


# ---- index file ----


def test_index_roundtrip_and_refusals(tmp_path):
    benchmarks = [decontam.DataSpec(str(DATA / "gsm8k_sample.jsonl"), ["question"])]
    index = decontam.build_index(benchmarks, n=8, seed=5)
    assert len(index) == 4 and index.benchmarks == ["gsm8k_sample"]
    assert index.instances()[3] == ("gsm8k_sample", "gsm8k-3", 2, 0)
    path = tmp_path / "index.bin"
    index.save(path)
    loaded = decontam.load_index(path, n=8, seed=5)
    assert loaded.instances() == index.instances() and loaded.num_ngrams == index.num_ngrams
    doc = [["Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."]]
    assert loaded.match_documents(doc) == index.match_documents(doc) != [[]]
    with pytest.raises(ValueError, match="n=8, but n=13"):
        decontam.load_index(path, n=13)
    with pytest.raises(ValueError, match="seed=5, but seed=0"):
        decontam.load_index(path, seed=0)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        NgramIndex.load(path)
    path.write_bytes(b"not an index at all")
    with pytest.raises(ValueError, match="not a valid n-gram index"):
        NgramIndex.load(path)


# ---- streaming scans ----


def sample_index() -> NgramIndex:
    return decontam.build_index([decontam.DataSpec(str(DATA / "gsm8k_sample.jsonl"), ["question"])])


def write_corpus(path: Path, lines: list[str]) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as f:
        f.write("\n".join(lines) + "\n")


def scan(index, path, tmp_path, **overrides):
    cfg = decontam.DecontamConfig(chunk_mb=1, **overrides)
    clean = tmp_path / ("clean-" + Path(path).name)
    return decontam.scan_file(index, decontam.DataSpec(str(path)), cfg, str(clean)), clean


def test_sample_file_user_turns_only(tmp_path):
    result, clean = scan(sample_index(), DATA / "train_sample.jsonl", tmp_path)
    assert result.docs == 4 and [line for line, _ in result.malformed] == [3]
    found = {
        (row.line, row.id): [(m.instance, m.coverage) for m in row.matches] for row in result.contaminated
    }
    # b copies gsm8k-0 in a user turn; c only in the assistant turn (not matched); d splits gsm8k-2 over
    # two user turns: n-grams do not bridge them, yet every token is covered.
    assert found == {(2, "b"): [(0, 1.0)], (5, "d"): [(2, 1.0)]}
    d = result.contaminated[1].matches[0]
    assert (d.shared_ngrams, d.covered_tokens, d.longest_span) == (
        13,
        27,
        27,
    )  # 11 + 16 tokens, 4 + 9 n-grams
    kept = [json.loads(line)["id"] for line in clean.read_text().splitlines()]
    assert kept == ["a", "c"]


def test_compressed_and_parquet_inputs_agree(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [
        json.loads(line)
        for line in (DATA / "train_sample.jsonl").read_text().splitlines()
        if "broken" not in line
    ]
    lines = [json.dumps(row) for row in rows] * 50
    plain, gz = tmp_path / "t.jsonl", tmp_path / "t.jsonl.gz"
    write_corpus(plain, lines)
    write_corpus(gz, lines)
    parquet = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pylist([json.loads(line) for line in lines]), parquet)
    index = sample_index()
    results = {}
    for path in (plain, gz, parquet):
        result, clean = scan(index, path, tmp_path, parquet_batch_rows=7)
        results[path.suffix] = [(row.line, row.id, row.matches) for row in result.contaminated]
        assert result.docs == 200
        if path.suffix == ".parquet":
            assert [r["id"] for r in pq.read_table(clean).to_pylist()] == ["a", "c"] * 50
        else:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(clean, "rt") as f:
                assert [json.loads(line)["id"] for line in f] == ["a", "c"] * 50
    assert results[".jsonl"] == results[".gz"] == results[".parquet"]
    assert len(results[".jsonl"]) == 100


def test_zstd_input(tmp_path):
    import zstandard

    lines = (DATA / "train_sample.jsonl").read_text()
    path = tmp_path / "t.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(lines.encode()))
    result, clean = scan(sample_index(), path, tmp_path)
    assert [row.id for row in result.contaminated] == ["b", "d"]
    kept = zstandard.ZstdDecompressor().stream_reader(clean.open("rb")).read().decode().splitlines()
    assert [json.loads(line)["id"] for line in kept] == ["a", "c"]


def test_malformed_line_fatal_on_request(tmp_path):
    with pytest.raises(ValueError, match=r"train_sample\.jsonl:3: malformed JSON"):
        scan(sample_index(), DATA / "train_sample.jsonl", tmp_path, skip_malformed=False)
    assert not (tmp_path / "clean-train_sample.jsonl").exists()  # no partial cleaned copy left behind


def test_missing_field_names_field_and_file(tmp_path):
    path = tmp_path / "other.jsonl"
    path.write_text('{"id": 1, "prompt": "hi"}\n')
    with pytest.raises(
        ValueError, match=r"other\.jsonl:1: field \"messages\[role=user\]\.content\" not found"
    ):
        scan(sample_index(), path, tmp_path)
    with pytest.raises(ValueError, match=r"gsm8k_sample\.jsonl:1: field \"problem\" not found"):
        decontam.read_benchmark(decontam.DataSpec(str(DATA / "gsm8k_sample.jsonl"), ["problem"]))


def test_scanner_is_bounded_by_chunks(tmp_path):
    """Chunks of ~chunk_bytes come back one at a time, whatever the file size."""
    path = tmp_path / "big.jsonl"
    line = json.dumps({"messages": [{"role": "user", "content": "lorem ipsum " * 400}]})
    write_corpus(path, [line] * 2000)  # ~10 MB
    scanner = JsonlScanner(sample_index(), path, USER_TURNS, chunk_bytes=1 << 20)
    sizes = []
    while (batch := scanner.next_batch()) is not None:
        sizes.append(batch[1])
    assert len(sizes) >= 9 and max(sizes) < (1 << 20) + 2 * len(line) and sum(sizes) == path.stat().st_size
