"""Chat formatting and label masking shared by every objective.

A conversation is rendered with the tokenizer's chat template (the Tülu template when the tokenizer has none),
tokenized once with character offsets (never adding special tokens: the template writes all of them), and only
assistant content plus its end-of-turn token is labelled.

BOS is the chat template's business, as in open-instruct (`add_bos` prepends `{{ bos_token }}` to the template,
finetune.py@15f99ca6e): the template is saved with the exported tokenizer, so every later stage (DPO, reward
model, RLVR, eval) renders exactly what the SFT stage trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

from tulu_lightning.config import ConfigError
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
BOS_PREFIX = "{{ bos_token }}"  # what open-instruct's `--add_bos` puts in front of the template


@dataclass
class TokenizedChat:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX where the token is not trained on (not shifted)

    @property
    def num_trained_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)

    def truncated(self, max_length: int) -> TokenizedChat:
        return TokenizedChat(self.input_ids[:max_length], self.labels[:max_length])


@dataclass
class LengthLimit:
    """Examples longer than `max_length` tokens are dropped (a cut answer would be trained without its EOS), or,
    with `keep_truncated`, cut to the limit (open-instruct's finetune.py and dpo_tune.py tokenize with
    `truncation=True`); `over_long` counts them either way."""

    max_length: int
    keep_truncated: bool = False
    over_long: int = 0

    def fit(self, *chats: TokenizedChat) -> list[TokenizedChat] | None:
        """The sequences of one example (a chat, or both sides of a pair) within the limit, or None (dropped)."""
        if all(len(chat.input_ids) <= self.max_length for chat in chats):
            return list(chats)
        self.over_long += 1
        return [chat.truncated(self.max_length) for chat in chats] if self.keep_truncated else None


def ensure_chat_template(tokenizer, template: str | None = None, add_bos: bool | None = None) -> None:
    """Give the tokenizer `template` (the Tülu template for "tulu"), or the Tülu template when it has none.

    `add_bos`: True makes the template start with the BOS token, False makes it not; None keeps what the
    tokenizer's own template did (what the stage that saved it trained on), also when `template` replaces it.
    """
    own_bos = bool(getattr(tokenizer, "chat_template", None)) and renders_bos(tokenizer)
    if template is not None:
        tokenizer.chat_template = TULU_CHAT_TEMPLATE if template == "tulu" else template
    elif not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = TULU_CHAT_TEMPLATE
    set_template_bos(tokenizer, own_bos if add_bos is None else add_bos)


def renders_bos(tokenizer) -> bool:
    """Does the tokenizer's chat template start a conversation with its BOS token?"""
    if not tokenizer.bos_token:
        return False
    return render(tokenizer, [{"role": "user", "content": "x"}]).startswith(tokenizer.bos_token)


def set_template_bos(tokenizer, add_bos: bool) -> None:
    """Make the chat template start with BOS (`add_bos`) or not (as open-instruct's `--add_bos`)."""
    if add_bos == renders_bos(tokenizer):
        return
    if add_bos:
        if not tokenizer.bos_token:
            raise ConfigError("model.add_bos: the tokenizer has no BOS token")
        tokenizer.chat_template = BOS_PREFIX + tokenizer.chat_template
    elif tokenizer.chat_template.startswith(BOS_PREFIX):
        tokenizer.chat_template = tokenizer.chat_template.removeprefix(BOS_PREFIX)
    else:
        raise ConfigError(
            "model.add_bos=false: the chat template writes the BOS token itself; set model.chat_template"
        )


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


def tokenize_chat(tokenizer, messages: list[dict], last_turn_only: bool = False) -> TokenizedChat:
    """Token ids and labels of a whole conversation (the caller decides what to do when it is too long)."""
    text, spans = assistant_spans(tokenizer, messages, last_turn_only)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    labels = [
        token if any(start <= offset_start < end for start, end in spans) else IGNORE_INDEX
        for token, (offset_start, _) in zip(encoding["input_ids"], encoding["offset_mapping"])
    ]
    return TokenizedChat(input_ids=encoding["input_ids"], labels=labels)


def prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of the conversation up to the generation prompt of the next assistant turn."""
    _check_roles(messages)
    text = render(tokenizer, messages, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _check_roles(messages: list[dict]) -> None:
    if not isinstance(messages, list) or not messages:
        raise ChatFormatError("messages must be a non-empty list of {'role', 'content'} dicts")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ChatFormatError(f"message {i} must have 'role' and 'content'")
        if message["role"] not in ("system", "user", "assistant"):
            raise ChatFormatError(f"message {i} has unknown role {message['role']!r}")
