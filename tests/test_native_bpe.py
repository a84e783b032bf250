"""The native byte-level BPE encoder against `tokenizers` itself (the reference we did not write): the same ids,
and the same labels as HF's offsets give, on the tokenizer shapes of the models Tülu 3 trains (GPT-2's
ByteLevel regex, Llama 3's Split regex, digits split, added special tokens, `trim_offsets` on and off) and of
Qwen 2 / 2.5 (the NFC normalizer: offsets mapped back to the original text through its alignments), on text
drawn from all of Unicode (much of it not NFC) and on every code point."""

from __future__ import annotations

import json
import random
import sys
import unicodedata

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import PreTrainedTokenizerFast

from tulu_lightning import _native, chat
from tulu_lightning.chat import IGNORE_INDEX, label_spans_by_offsets, native_encode, native_encoder
from tulu_lightning.models import qwen2_pipeline

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
SPECIAL = ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|system|>"]


def corpus() -> list[str]:
    rng = random.Random(0)
    words = [
        "the",
        "answer",
        "is",
        "Paris",
        "naïve",
        "café",
        "日本語",
        "привет",
        "مرحبا",
        "😀",
        "x²",
        "½",
        "١٢٣",
    ]
    lines = []
    for _ in range(400):
        parts = [rng.choice(words) for _ in range(rng.randint(3, 20))]
        parts += [str(rng.randint(0, 99999)), "  ", "\n\n", "'s", "'ll", "\t", "--", "..."]
        rng.shuffle(parts)
        lines.append(" ".join(parts))
    return lines


def build(
    pre_tokenizer, post_processor=None, vocab_size: int = 600, normalizer=None
) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.decoder = decoders.ByteLevel()
    if post_processor is not None:
        tokenizer.post_processor = post_processor
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>")


def ignoring_merges(tokenizer: PreTrainedTokenizerFast) -> PreTrainedTokenizerFast:
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    spec["model"]["ignore_merges"] = True  # as Llama 3's tokenizer.json
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(spec)), eos_token="<|endoftext|>"
    )


def with_normalized_tokens(tokenizer: PreTrainedTokenizerFast) -> PreTrainedTokenizerFast:
    """Added tokens matched in the normalized text (`normalized=True`), one of them starting with whitespace."""
    tokenizer.backend_tokenizer.add_tokens([AddedToken(t, normalized=True) for t in ["café", " Paris", "Å"]])
    return tokenizer


TOKENIZERS = {
    "gpt2": lambda: build(pre_tokenizers.ByteLevel(add_prefix_space=False)),
    "gpt2_trim": lambda: build(
        pre_tokenizers.ByteLevel(add_prefix_space=False), processors.ByteLevel(trim_offsets=True)
    ),
    "gpt2_trim_prefix": lambda: build(
        pre_tokenizers.ByteLevel(add_prefix_space=False),
        processors.ByteLevel(trim_offsets=True, add_prefix_space=True),
    ),
    "digits": lambda: build(
        pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
        )
    ),
    "digit_runs": lambda: build(
        pre_tokenizers.Sequence([pre_tokenizers.Digits(), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    ),
    "llama3": lambda: ignoring_merges(
        build(
            pre_tokenizers.Sequence(
                [
                    pre_tokenizers.Split(pattern=Regex(LLAMA3_PATTERN), behavior="isolated"),
                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
                ]
            ),
            processors.ByteLevel(trim_offsets=False),
        )
    ),
    # Qwen 2 / 2.5's tokenizer.json: NFC, its Split regex, ByteLevel without regex, no trim_offsets
    "qwen2": lambda: build(**qwen2_pipeline()),
    # NFC's alignments under trim_offsets, and added tokens matched in the normalized text
    "gpt2_trim_nfc": lambda: with_normalized_tokens(
        build(
            pre_tokenizers.ByteLevel(add_prefix_space=False),
            processors.ByteLevel(trim_offsets=True),
            normalizer=normalizers.NFC(),
        )
    ),
}
_BUILT: dict[str, PreTrainedTokenizerFast] = {}


def tokenizer_named(name: str) -> PreTrainedTokenizerFast:
    if name not in _BUILT:
        _BUILT[name] = TOKENIZERS[name]()
    return _BUILT[name]


def reference(tokenizer, texts: list[str], spans: list[list[tuple]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """`tokenizers`' ids, labelled by its own offsets (the rule `label_spans` follows)."""
    return label_spans_by_offsets(tokenizer, texts, spans)


# characters `start::step` each a span of its own: a token whose reported start differs by less than six
# characters from HF's gets another label under one of them
EVERY = [(0, 2), (1, 3)]


def dense_spans(texts: list[str], spans: list[list[tuple]]) -> tuple[list[str], list[list[tuple]]]:
    """`texts` three times: with `spans`, then with each of `EVERY`'s patterns."""
    every = [[(i, i + 1) for i in range(start, len(t), step)] for start, step in EVERY for t in texts]
    return texts * 3, [*spans, *every]


def assert_same(tokenizer, texts: list[str], spans: list[list[tuple]]) -> None:
    texts, spans = dense_spans(texts, spans)
    native = native_encode(tokenizer, texts, spans, threads=1)
    assert native is not None, "the native encoder declined"
    for text, (ids, labels), (want_ids, want_labels) in zip(
        texts, native, reference(tokenizer, texts, spans)
    ):
        assert ids.tolist() == want_ids.tolist(), repr(text)
        assert labels.tolist() == want_labels.tolist(), repr(text)


@pytest.mark.parametrize("name", sorted(TOKENIZERS))
def test_every_shape_is_supported_and_equal_on_the_corpus(name):
    tokenizer = tokenizer_named(name)
    assert native_encoder(tokenizer) is not None
    texts = [*corpus()[:200], "", " ", "  x", "<|user|>\n hi<|endoftext|>\n", "<|user|><|assistant|>"]
    spans = [[(len(t) // 3, len(t) // 2), (len(t) - 5, len(t))] for t in texts]
    assert_same(tokenizer, texts, spans)


# U+11938 decomposed: its canonical decomposition came in Unicode 13; `tokenizers`' NFC (the tables of
# unicode-normalization-alignments, Unicode 9) leaves it apart, the only difference from Python's Unicode 14 NFC
DIVES_AKURU_O = "\U00011935\U00011930"
# Text NFC changes: singletons (angstrom and ohm signs, U+0344, CJK compatibility ideographs, U+2000),
# composition exclusions (U+0958), Hangul jamo, marks that reorder (U+0316 class 220 after U+0301 class 230),
# marks that compose across others (U+1E0B + U+0323), a mark after an added token, lone marks
NOT_NFC = [
    "\u212b", "\u2126", "\u0344", "\uf900", "\ufa10", "\u2000", "\u0958", "\u1100\u1161\u11a8", "\u1100\u1161",
    "\u11a8", "e\u0301", "a\u0301\u0316", "\u1e0b\u0323", "\u0301\u0f73", "\u0f75", "\u00c5\u0301", "<|user|>\u0301",
    "\u0301", "\u0316", "\u0323", "cafe\u0301", " Parı\u0307s", "A\u030a", DIVES_AKURU_O,
]  # fmt: skip
COMBINING = st.characters(categories=["Mn", "Mc", "Me"])
UNICODE_TEXT = st.lists(
    st.one_of(
        st.text(max_size=40),  # every code point but surrogates
        st.text(max_size=20).map(lambda t: unicodedata.normalize("NFD", t)),  # decomposed
        # letters (and anything) followed by runs of combining marks
        st.tuples(st.characters(exclude_categories=["Cs"]), st.lists(COMBINING, min_size=1, max_size=4)).map(
            lambda pair: pair[0] + "".join(pair[1])
        ),
        st.sampled_from(
            [*SPECIAL, " ", "  ", "\n", "\r\n", "\t", "'s", "'LL", "123456", "٣", "x²", "\u3000", *NOT_NFC]
        ),
    ),
    max_size=12,
).map("".join)


@pytest.mark.parametrize("name", sorted(TOKENIZERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(UNICODE_TEXT, min_size=1, max_size=4), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_equal_on_text_from_all_of_unicode(name, texts, cuts):
    tokenizer = tokenizer_named(name)
    spans = [[(min(a, b), max(a, b)) for a, b in zip(cuts[::2], cuts[1::2])] for _ in texts]
    assert_same(tokenizer, texts, spans)


@pytest.mark.parametrize("name", ["gpt2", "llama3"])
def test_equal_on_every_code_point(name):
    """Every code point in contexts that exercise the regexes' classes (letters, numbers, spaces, the rest), so
    a Unicode-table difference between Oniguruma and Rust's regex would show (ids; the labels' rule is the same
    for every character and is tested above). Past the first two planes, where the scripts are, the long runs
    of one category (CJK extensions, private use, unassigned) are sampled: every 97th, and every change of
    category."""
    tokenizer = tokenizer_named(name)
    points = code_points()
    texts = [
        "".join(f"{c}a {c}{c}1 {c}\n'{c}" for c in points[i : i + 512]) for i in range(0, len(points), 512)
    ]
    native = native_encode(tokenizer, texts, [[] for _ in texts])
    reference = tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False)
    for text, (ids, _), want in zip(texts, native, reference):
        assert ids.tolist() == want.ids, repr(text[:40])


@pytest.mark.parametrize("name", ["qwen2", "gpt2_trim_nfc"])
def test_equal_on_every_code_point_under_nfc(name):
    """Every code point of planes 0 and 1 alone, followed by a combining mark (U+0301, which composes with
    many), preceded by a base letter, and in the regex contexts above; ids and labels (each character's
    alignment back to the original decides its tokens' reported starts). Each text holds 256 code points, so
    what NFC changes in one cannot hide another."""
    tokenizer = tokenizer_named(name)
    points = [p for p in code_points() if ord(p) < 0x20000]
    texts = [
        "".join(f" {c} {c}\u0301 a{c} e{c}\u0301" for c in points[i : i + 256])
        for i in range(0, len(points), 256)
    ]
    halves = [[(0, len(t) // 2)] for t in texts]
    native = native_encode(tokenizer, *dense_spans(texts, halves), threads=0)
    reference = tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False)
    for i, (text, want) in enumerate(zip(texts, reference)):
        starts = np.array([start for start, _ in want.offsets], dtype=np.int64)
        for k in range(1 + len(EVERY)):
            ids, labels = native[k * len(texts) + i]
            assert ids.tolist() == want.ids, repr(text[:40])
            # HF's labels under the spans, from its offsets (the rule of `label_spans_by_offsets`)
            inside = np.zeros(len(text) + 1, dtype=bool)
            if k == 0:
                inside[: halves[i][0][1]] = True
            else:
                start, step = EVERY[k - 1]
                inside[start : len(text) : step] = True
            want_labels = np.where(inside[starts], want.ids, IGNORE_INDEX)
            assert labels.tolist() == want_labels.tolist(), repr(text[:40])


def code_points() -> list[str]:
    points, previous = [], None
    for c in range(sys.maxunicode + 1):
        if 0xD800 <= c <= 0xDFFF:
            continue
        category = unicodedata.category(chr(c))
        if c < 0x20000 or category != previous or c % 97 == 0:
            points.append(chr(c))
        previous = category
    return points


def test_threads_and_rows_keep_their_order():
    tokenizer = tokenizer_named("digits")
    texts = corpus() * 5
    spans = [[(0, len(t))] for t in texts]
    one = native_encode(tokenizer, texts, spans, threads=1)
    pool = native_encode(tokenizer, texts, spans, threads=0)
    assert [ids.tolist() for ids, _ in one] == [ids.tolist() for ids, _ in pool]
    assert all((labels == ids).all() for ids, labels in one)  # every token in its span


@pytest.mark.parametrize(
    "normalizer", [normalizers.NFKC(), normalizers.Lowercase(), normalizers.Sequence([normalizers.NFC()])]
)
def test_unsupported_tokenizers_fall_back_to_tokenizers(normalizer):
    tokenizer = build(pre_tokenizers.ByteLevel(add_prefix_space=False), normalizer=normalizer)
    assert native_encoder(tokenizer) is None
    with pytest.raises(ValueError, match=r"^unsupported tokenizer: a normalizer$"):
        _native.BpeEncoder(tokenizer.backend_tokenizer.to_str())
    text = "Cafe\u0301 \ufb01 <|user|>"
    ((ids, labels),) = chat.label_spans(tokenizer, [text], [[(0, 4)]])
    assert ids.tolist() == tokenizer(text, add_special_tokens=False)["input_ids"]
    assert (labels[:1] != IGNORE_INDEX).all()


@pytest.mark.parametrize("name", ["qwen2", "gpt2_trim_nfc"])
def test_equal_on_hostile_text_under_nfc(name):
    """Each text NFC changes, alone, after a letter and a space, before a mark, twice, at the end of a longer
    text, and all of them together; empty text; long runs of combining marks; spans past the end."""
    texts = ["", "\u0301" * 300, "a" + "\u0316\u0301" * 100 + "\u0323", " ".join(NOT_NFC), "".join(NOT_NFC)]
    for t in NOT_NFC:
        texts += [t, f"x {t}", f"{t}\u0301", t * 2, f"the answer is Paris{t}"]
    spans = [[(0, 1), (2, 5), (len(t) - 1, len(t) + 3), (len(t) + 5, len(t) + 9)] for t in texts]
    assert_same(tokenizer_named(name), texts, spans)


def test_nfc_is_tokenizers_own_unicode_version():
    """The native NFC has `tokenizers`' Unicode tables, not a newer crate's or Python's."""
    tokenizer = tokenizer_named("qwen2")
    assert tokenizer.backend_tokenizer.normalizer.normalize_str(DIVES_AKURU_O) == DIVES_AKURU_O
    assert unicodedata.normalize("NFC", DIVES_AKURU_O) == "\U00011938"
    texts = [f"a{DIVES_AKURU_O}", f"{DIVES_AKURU_O}\u0301 x", "\U00011938"]
    assert_same(tokenizer, texts, [[(1, 2)] for _ in texts])


def test_a_normalized_added_token_nfc_changes_is_refused():
    """Which pattern `tokenizers` matches for it (its content, or the content normalized) has changed between
    its versions: such a tokenizer is left to `tokenizers`."""
    tokenizer = build(pre_tokenizers.ByteLevel(add_prefix_space=False), normalizer=normalizers.NFC())
    tokenizer.backend_tokenizer.add_tokens([AddedToken("cafe\u0301", normalized=True)])
    with pytest.raises(
        ValueError, match=r"^unsupported tokenizer: a normalized added token that NFC changes"
    ):
        _native.BpeEncoder(tokenizer.backend_tokenizer.to_str())


def test_an_added_token_invalidates_the_cached_encoder():
    tokenizer = build(pre_tokenizers.ByteLevel(add_prefix_space=False))
    before = native_encoder(tokenizer)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|new|>"]})
    assert native_encoder(tokenizer) is not before
    assert_same(tokenizer, ["a<|new|>b"], [[(0, 3)]])
