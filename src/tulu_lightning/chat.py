"""Chat formatting and label masking shared by every objective.

A conversation is rendered with the tokenizer's chat template (the Tülu template when the tokenizer has none),
tokenized once with character offsets (never adding special tokens: the template writes all of them), and only
assistant content plus its end-of-turn token is labelled.

BOS is the chat template's business, as in open-instruct (`add_bos` prepends `{{ bos_token }}` to the template,
finetune.py@15f99ca6e): the template is saved with the exported tokenizer, so every later stage (DPO, reward
model, RLVR, eval) renders exactly what the SFT stage trained on.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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
NOT_PREFIX_STABLE = (
    "the chat template is not prefix-stable (rendering a prefix of the conversation does not give a prefix of the "
    "full rendering), so assistant turns cannot be located; set model.chat_template"
)


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
            raise ChatFormatError(NOT_PREFIX_STABLE)
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


# --- many conversations at once --------------------------------------------------------------------------
# What the prepared-data store calls: the same ids and labels as `tokenize_chat`, without rendering every prefix
# of every conversation through Jinja. The whole conversation is always encoded as one text (encoding turn by
# turn would change the ids wherever the tokenizer merges across a turn boundary); only how the labelled
# character spans are found differs.

GENERATION_BLOCK = re.compile(r"\{%-?\s*generation\s*-?%\}")


def tokenize_chats(
    tokenizer, conversations: Sequence[list[dict]], last_turn_only: bool = False, threads: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`tokenize_chat` of many conversations as (input_ids, labels) int32 arrays, one batched encoding call:
    the Tülu template's spans come from its known turn structure; a template with `{% generation %}` blocks
    gives its assistant-token mask (`apply_chat_template(return_assistant_tokens_mask=True)`); any other
    template is rendered prefix by prefix as `tokenize_chat` does."""
    if uses_tulu_template(tokenizer):
        bos = tokenizer.bos_token if tokenizer.chat_template.startswith(BOS_PREFIX) else ""
        rendered = [
            tulu_spans(messages, bos, tokenizer.eos_token, last_turn_only) for messages in conversations
        ]
        return label_spans(
            tokenizer, [text for text, _ in rendered], [spans for _, spans in rendered], threads
        )
    if GENERATION_BLOCK.search(tokenizer.chat_template or ""):
        return generation_masks(tokenizer, conversations, last_turn_only)
    rendered = [assistant_spans(tokenizer, messages, last_turn_only) for messages in conversations]
    return label_spans(tokenizer, [text for text, _ in rendered], [spans for _, spans in rendered], threads)


def uses_tulu_template(tokenizer) -> bool:
    return tokenizer.chat_template in (TULU_CHAT_TEMPLATE, BOS_PREFIX + TULU_CHAT_TEMPLATE)


def tulu_spans(
    messages: list[dict], bos: str, eos: str, last_turn_only: bool = False
) -> tuple[str, list[tuple]]:
    """`assistant_spans` under the Tülu template, written out: the rendering is `bos`, then per turn
    `<|role|>\n{content}\n`, an assistant turn ending with `eos` (and `\n` unless it is the last turn); a span
    starts after the turn's `<|assistant|>\n` (at 0 for a conversation that opens with the assistant, where the
    generation prompt before it renders as nothing) and ends after its `eos`."""
    _check_roles(messages)
    parts, spans, position = [bos], [], len(bos)
    for i, message in enumerate(messages):
        role, content = message["role"], message["content"]
        head = f"<|{role}|>\n"
        if role == "assistant":
            start = position + len(head) if i else 0
            # after an assistant turn, the prefix's generation prompt `...{eos}<|assistant|>` is not a prefix of
            # the rendering `...{eos}\n<|assistant|>`: the turn cannot be located (None)
            stable = not (i and messages[i - 1]["role"] == "assistant")
            spans.append((start, position + len(head) + len(content) + len(eos)) if stable else None)
            piece = head + content + eos + ("\n" if i + 1 < len(messages) else "")
        else:
            piece = head + content + "\n"
        parts.append(piece)
        position += len(piece)
    spans = spans[-1:] if last_turn_only else spans
    if None in spans:
        raise ChatFormatError(NOT_PREFIX_STABLE)
    return "".join(parts), spans


def label_spans(
    tokenizer, texts: list[str], spans: list[list[tuple]], threads: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Encode `texts` in one batch; a token is labelled when its first character lies in one of its text's
    spans (the rule of `tokenize_chat`). A byte-level BPE tokenizer is encoded by the native encoder (the same
    ids and labels, several times faster; `threads` 1 keeps it in this thread, for a worker process); any
    other by `tokenizers`, where only the tokens at each span's two ends are looked up (every token's offsets as
    Python tuples would cost a third of the encoding itself)."""
    if getattr(tokenizer, "split_special_tokens", False) or not hasattr(tokenizer, "backend_tokenizer"):
        return label_spans_by_offsets(tokenizer, texts, spans)  # the wrapper does more than its backend
    native = native_encode(tokenizer, texts, spans, threads)
    if native is not None:
        return native
    results = []
    for encoding, text_spans in zip(
        tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False), spans
    ):
        ids = np.asarray(encoding.ids, dtype=np.int32)
        labels = np.full(len(ids), IGNORE_INDEX, dtype=np.int32)
        for start, end in text_spans:
            trained = _tokens_starting_in(encoding, len(ids), start, end)
            if trained is None:  # a span end inside no token (a normaliser dropped it): read every offset
                return label_spans_by_offsets(tokenizer, texts, spans)
            labels[trained] = ids[trained]
        results.append((ids, labels))
    return results


# The native encoder of each tokenizer object (None: one it does not support), built on first use. Keyed by the
# object, and checked against its vocabulary size, so a token added later builds a new one.
_ENCODERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def native_encoder(tokenizer):
    """`tulu_lightning._native.BpeEncoder` of a fast tokenizer's byte-level BPE pipeline (no normaliser, or NFC
    as Qwen 2's), or None where the tokenizer is not one it reproduces exactly (another normaliser, another
    model, a pre-tokenizer it does not know; `tokenizers` then encodes)."""
    from tulu_lightning import _native

    size = len(tokenizer)
    cached = _ENCODERS.get(tokenizer)
    if cached is not None and cached[0] == size:
        return cached[1]
    try:
        encoder = _native.BpeEncoder(tokenizer.backend_tokenizer.to_str())
    except ValueError:  # unsupported: said once per tokenizer by being None
        encoder = None
    _ENCODERS[tokenizer] = (size, encoder)
    return encoder


def native_encode(
    tokenizer, texts: list[str], spans: list[list[tuple]], threads: int = 0
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """(ids, labels) of each text from the native encoder, or None when it cannot encode them."""
    encoder = native_encoder(tokenizer)
    if encoder is None or not texts:
        return None
    try:
        ids, labels, offsets = encoder.encode_labelled(texts, spans, threads)
    except ValueError:  # a text its regexes cannot split (e.g. backtracking limit): `tokenizers` does
        return None
    # one writable copy of each buffer; every row is a view into it
    ids, labels = np.frombuffer(ids, dtype=np.int32).copy(), np.frombuffer(labels, dtype=np.int32).copy()
    offsets = np.frombuffer(offsets, dtype=np.uint64)
    return [(ids[a:b], labels[a:b]) for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def _tokens_starting_in(encoding, n: int, start: int, end: int) -> slice | None:
    """The tokens whose first character lies in [start, end), from the tokens holding `start` and `end - 1`
    (byte-level tokens split a character: several tokens may start at the same one)."""
    if start >= end:
        return slice(0, 0)
    first, last = encoding.char_to_token(start), encoding.char_to_token(end - 1)
    if first is None or last is None:
        return None
    while first < n and encoding.token_to_chars(first)[0] < start:
        first += 1
    while first > 0 and encoding.token_to_chars(first - 1)[0] >= start:
        first -= 1
    while last + 1 < n and encoding.token_to_chars(last + 1)[0] < end:
        last += 1
    return slice(first, max(first, last + 1))


def label_spans_by_offsets(tokenizer, texts: list[str], spans: list[list[tuple]]) -> list:
    encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    return [
        _label_by_offsets(ids, offsets, text_spans)
        for ids, offsets, text_spans in zip(encoded["input_ids"], encoded["offset_mapping"], spans)
    ]


def _label_by_offsets(
    ids: list[int], offsets: list[tuple], spans: list[tuple]
) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(ids, dtype=np.int32)
    starts = np.fromiter((start for start, _ in offsets), dtype=np.int64, count=len(offsets))
    trained = np.zeros(len(ids), dtype=bool)
    for start, end in spans:
        trained |= (starts >= start) & (starts < end)
    return ids, np.where(trained, ids, IGNORE_INDEX).astype(np.int32)


def generation_masks(
    tokenizer, conversations: Sequence[list[dict]], last_turn_only: bool = False
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Labels from the template's own `{% generation %}` blocks (every token overlapping one is labelled, as
    transformers marks them); `last_turn_only` keeps the last block's tokens."""
    for messages in conversations:
        _check_roles(messages)
    encoded = tokenizer.apply_chat_template(
        list(conversations), tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    results = []
    for ids, mask in zip(encoded["input_ids"], encoded["assistant_masks"]):
        ids, trained = np.asarray(ids, dtype=np.int32), np.asarray(mask, dtype=bool)
        if last_turn_only and trained.any():
            starts = np.flatnonzero(trained & ~np.concatenate([[False], trained[:-1]]))
            trained[: starts[-1]] = False
        results.append((ids, np.where(trained, ids, IGNORE_INDEX).astype(np.int32)))
    return results


def prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of the conversation up to the generation prompt of the next assistant turn."""
    return tokenize_prompts(tokenizer, [messages])[0]


def tokenize_prompts(tokenizer, conversations: Sequence[list[dict]], threads: int = 0) -> list[list[int]]:
    """`prompt_ids` of each conversation, in one batched encoding (the native one where it applies)."""
    for messages in conversations:
        _check_roles(messages)
    texts = [render(tokenizer, messages, add_generation_prompt=True) for messages in conversations]
    if not getattr(tokenizer, "split_special_tokens", False) and hasattr(tokenizer, "backend_tokenizer"):
        native = native_encode(tokenizer, texts, [[] for _ in texts], threads)
        if native is not None:
            return [ids.tolist() for ids, _ in native]
    return tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []


def _check_roles(messages: list[dict]) -> None:
    if not isinstance(messages, list) or not messages:
        raise ChatFormatError("messages must be a non-empty list of {'role', 'content'} dicts")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ChatFormatError(f"message {i} must have 'role' and 'content'")
        if message["role"] not in ("system", "user", "assistant"):
            raise ChatFormatError(f"message {i} has unknown role {message['role']!r}")
