"""The batched chat tokenization (`tokenize_chats`) gives exactly `tokenize_chat`'s ids and labels, on every
bundled conversation and on hostile ones drawn from all of Unicode: the Tülu template's written-out spans (with
and without BOS), a template's own `{% generation %}` blocks, and any other template rendered prefix by prefix."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tulu_lightning.chat import (
    BOS_PREFIX,
    TULU_CHAT_TEMPLATE,
    ChatFormatError,
    tokenize_chat,
    tokenize_chats,
    uses_tulu_template,
)
from tulu_lightning.data import read_file_rows
from tulu_lightning.models import train_tiny_tokenizer
from tulu_lightning.schemas import Schema, normalise_rows, row_texts

REPO = Path(__file__).resolve().parents[1]
BUNDLED = {
    "sft": [
        REPO / "data/demo/sft_train.jsonl",
        REPO / "data/demo/sft_val.jsonl",
        REPO / "tests/data/tulu3/sft_mixture.jsonl",
    ],
    "preference": [
        REPO / "data/demo/preference_train.jsonl",
        REPO / "data/demo/preference_val.jsonl",
        REPO / "tests/data/tulu3/preference_mixture.jsonl",
        REPO / "tests/data/tulu3/preference_prompt_answer.jsonl",
    ],
}
# The Tülu template with the assistant's content and EOS in a generation block (what transformers masks).
GENERATION_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + '\n' }}"
    "{% elif message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + '\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n' }}"
    "{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}"
    "{% if not loop.last %}{{ '\n' }}{% endif %}"
    "{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    "{% endfor %}"
)
# A template the fast paths do not know (Zephyr-like): rendered prefix by prefix.
OTHER_TEMPLATE = (
    "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


def bundled_conversations() -> list[list[dict]]:
    conversations = []
    for kind, paths in BUNDLED.items():
        for path in paths:
            rows, problems = normalise_rows(read_file_rows(path), Schema(kind))
            assert not problems
            for row in rows:
                conversations += [row[f] for f in ("messages", "chosen", "rejected") if f in row]
    return conversations


CONVERSATIONS = bundled_conversations()


@pytest.fixture(scope="module")
def tokenizers() -> dict:
    rows = [{"messages": c} for c in CONVERSATIONS]
    tulu = train_tiny_tokenizer(row_texts(rows), vocab_size=400)
    variants = {"tulu": tulu}
    for name, template in (
        ("tulu+bos", BOS_PREFIX + TULU_CHAT_TEMPLATE),
        ("generation", GENERATION_TEMPLATE),
        ("other", OTHER_TEMPLATE),
    ):
        variants[name] = copy.deepcopy(tulu)
        variants[name].chat_template = template
    return variants


def assert_same(tokenizer, conversations, last_turn_only=False):
    fast = tokenize_chats(tokenizer, conversations, last_turn_only)
    assert len(fast) == len(conversations)
    for messages, (ids, labels) in zip(conversations, fast):
        today = tokenize_chat(tokenizer, messages, last_turn_only)
        assert ids.dtype == np.int32 and labels.dtype == np.int32
        assert ids.tolist() == today.input_ids, messages
        assert labels.tolist() == today.labels, messages


@pytest.mark.parametrize("name, last_turn_only", [("tulu", False), ("tulu", True), ("generation", False)])
def test_every_bundled_conversation_tokenizes_as_today(tokenizers, name, last_turn_only):
    assert len(CONVERSATIONS) > 5000
    assert uses_tulu_template(tokenizers[name]) == name.startswith("tulu")
    assert_same(tokenizers[name], CONVERSATIONS, last_turn_only)


@pytest.mark.parametrize("name, last_turn_only", [("tulu+bos", False), ("generation", True)])
def test_variants_tokenize_as_today(tokenizers, name, last_turn_only):
    assert_same(tokenizers[name], CONVERSATIONS[::10], last_turn_only)


def test_any_other_template_is_rendered_prefix_by_prefix(tokenizers):
    assert_same(tokenizers["other"], CONVERSATIONS[::50])
    assert_same(tokenizers["other"], CONVERSATIONS[::50], last_turn_only=True)


ROLE = st.sampled_from(["system", "user", "assistant"])
TEXT = st.text(st.characters(codec="utf-8"), max_size=60)  # any Unicode scalar value (no lone surrogates)


@st.composite
def conversations(draw) -> list[dict]:
    """A user turn first (a conversation opening with the assistant has no generation block before it), then
    any roles and texts, ending with an assistant turn."""
    turns = [{"role": "user", "content": draw(TEXT)}]
    for role in draw(st.lists(ROLE, max_size=5)):
        turns.append({"role": role, "content": draw(TEXT)})
    turns.append({"role": "assistant", "content": draw(TEXT)})
    return turns


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(conversations(), min_size=1, max_size=4), st.booleans())
def test_hostile_conversations_tokenize_as_today(tokenizers, batch, last_turn_only):
    for name in ("tulu", "tulu+bos", "generation"):
        tokenizer = tokenizers[name]
        try:
            expected = [tokenize_chat(tokenizer, messages, last_turn_only) for messages in batch]
        except ChatFormatError:  # two assistant turns in a row: rendering prefixes cannot locate the second
            if name != "generation":  # (the generation blocks can: nothing to compare with)
                with pytest.raises(ChatFormatError):
                    tokenize_chats(tokenizer, batch, last_turn_only)
            continue
        fast = tokenize_chats(tokenizer, batch, last_turn_only)
        for chat, (ids, labels) in zip(expected, fast):
            assert ids.tolist() == chat.input_ids
            assert labels.tolist() == chat.labels


def test_a_conversation_opening_with_the_assistant_is_labelled_from_its_start(tokenizers):
    messages = [{"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Hi"}]
    messages.append({"role": "assistant", "content": "Bye."})
    for name in ("tulu", "tulu+bos"):
        assert_same(tokenizers[name], [messages])
