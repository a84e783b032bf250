"""Chat formatting: only assistant content plus its EOS is labelled, on every turn of a multi-turn chat."""

import pytest

from tulu_lightning.chat import IGNORE_INDEX, TULU_CHAT_TEMPLATE, ChatFormatError, tokenize_chat
from tulu_lightning.models import train_tiny_tokenizer

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2 + 3?"},
    {"role": "assistant", "content": "2 + 3 = 5."},
    {"role": "user", "content": "And 4 + 4?"},
    {"role": "assistant", "content": "4 + 4 = 8."},
]


@pytest.fixture(scope="module")
def tokenizer():
    texts = [m["content"] for m in CHAT] * 20 + ["apples and pears are fruit"] * 5
    return train_tiny_tokenizer(texts, vocab_size=300)


def labelled_text(tokenizer, chat) -> str:
    ids = [label for label in chat.labels if label != IGNORE_INDEX]
    return tokenizer.decode(ids, skip_special_tokens=False)


def test_tulu_template_is_used_when_tokenizer_has_none(tokenizer):
    assert tokenizer.chat_template == TULU_CHAT_TEMPLATE
    text = tokenizer.apply_chat_template(CHAT[1:3], tokenize=False)
    assert text == "<|user|>\nWhat is 2 + 3?\n<|assistant|>\n2 + 3 = 5.<|endoftext|>"


def test_multi_turn_labels_cover_exactly_assistant_content_and_eos(tokenizer):
    chat = tokenize_chat(tokenizer, CHAT)
    assert len(chat.labels) == len(chat.input_ids)
    assert labelled_text(tokenizer, chat) == "2 + 3 = 5.<|endoftext|>4 + 4 = 8.<|endoftext|>"
    # every labelled position holds its own input token (labels are not shifted here)
    assert all(lab in (IGNORE_INDEX, tok) for lab, tok in zip(chat.labels, chat.input_ids))


def test_last_turn_only(tokenizer):
    chat = tokenize_chat(tokenizer, CHAT, last_turn_only=True)
    assert labelled_text(tokenizer, chat) == "4 + 4 = 8.<|endoftext|>"


def test_truncation_keeps_labels_aligned(tokenizer):
    full = tokenize_chat(tokenizer, CHAT)
    cut = tokenize_chat(tokenizer, CHAT).truncated(20)
    assert cut.input_ids == full.input_ids[:20] and cut.labels == full.labels[:20]


def test_bad_roles_are_reported(tokenizer):
    with pytest.raises(ChatFormatError, match="message 1 has unknown role 'robot'"):
        tokenize_chat(tokenizer, [{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}])
