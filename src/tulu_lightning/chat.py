"""Chat formatting and label masking shared by every objective.

A conversation is rendered with the tokenizer's chat template (the Tülu template when the tokenizer has none),
tokenized once with character offsets, and only assistant content plus its end-of-turn token is labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from tulu_lightning.errors import ChatFormatError

IGNORE_INDEX = -100

# Tülu's template (open-instruct `tulu`): turns are `<|role|>\n{content}\n`, an assistant turn ends with EOS.
TULU_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + '\n' }}"
    "{% elif message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + '\n' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{% if not loop.last %}{{ '<|assistant|>\n' + message['content'] + eos_token + '\n' }}"
    "{% else %}{{ '<|assistant|>\n' + message['content'] + eos_token }}{% endif %}"
    "{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    "{% endfor %}"
)
TULU_SPECIAL_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]


@dataclass
class TokenizedChat:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX where the token is not trained on (not shifted)

    @property
    def num_trained_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def ensure_chat_template(tokenizer, template: str | None = None) -> None:
    """Give the tokenizer `template`, or the Tülu template when it has none of its own."""
    if template is not None:
        tokenizer.chat_template = TULU_CHAT_TEMPLATE if template == "tulu" else template
    elif not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = TULU_CHAT_TEMPLATE


def render(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def assistant_spans(tokenizer, messages: list[dict], last_turn_only: bool = False) -> tuple[str, list[tuple]]:
    """The rendered conversation and the character spans [start, end) of the assistant turns to train on.

    A span runs from the end of the generation prompt before the turn to the end of the conversation rendered
    up to and including the turn (so it covers the content and the end-of-turn token).
    """
    _check_roles(messages)
    text = render(tokenizer, messages)
    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if last_turn_only:
        turns = turns[-1:]
    spans = []
    for i in turns:
        start_text = render(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        end_text = render(tokenizer, messages[: i + 1])
        if not (text.startswith(start_text) and text.startswith(end_text)):
            raise ChatFormatError(
                "the chat template is not prefix-stable (rendering a prefix of the conversation does not give a "
                "prefix of the full rendering), so assistant turns cannot be located; set model.chat_template"
            )
        spans.append((len(start_text), len(end_text)))
    return text, spans


def tokenize_chat(
    tokenizer, messages: list[dict], max_length: int, last_turn_only: bool = False, add_bos: bool = False
) -> TokenizedChat:
    """Token ids and labels for a conversation, truncated to `max_length` tokens."""
    text, spans = assistant_spans(tokenizer, messages, last_turn_only)
    if add_bos and tokenizer.bos_token and not text.startswith(tokenizer.bos_token):
        shift = len(tokenizer.bos_token)
        text = tokenizer.bos_token + text
        spans = [(start + shift, end + shift) for start, end in spans]
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    input_ids = encoding["input_ids"][:max_length]
    labels = [
        token if any(start <= offset_start < end for start, end in spans) else IGNORE_INDEX
        for token, (offset_start, _) in zip(input_ids, encoding["offset_mapping"])
    ]
    return TokenizedChat(input_ids=input_ids, labels=labels)


def prompt_ids(tokenizer, messages: list[dict], add_bos: bool = False) -> list[int]:
    """Token ids of the conversation up to the generation prompt of the next assistant turn."""
    _check_roles(messages)
    text = render(tokenizer, messages, add_generation_prompt=True)
    if add_bos and tokenizer.bos_token and not text.startswith(tokenizer.bos_token):
        text = tokenizer.bos_token + text
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _check_roles(messages: list[dict]) -> None:
    if not isinstance(messages, list) or not messages:
        raise ChatFormatError("messages must be a non-empty list of {'role', 'content'} dicts")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ChatFormatError(f"message {i} must have 'role' and 'content'")
        if message["role"] not in ("system", "user", "assistant"):
            raise ChatFormatError(f"message {i} has unknown role {message['role']!r}")
