"""A continuous prompt read as text (Khashabi et al., NAACL 2022, §3): each prompt vector is discretized to its
nearest token in the frozen input-embedding matrix (Euclidean by default; cosine or dot product as options), and
the projected text is scored against the target text by SQuAD's word-level F1.

Used by the prompt-tuning objective (its validation F1) and by the waywardness sweep.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import cache

import torch

METRICS = ("euclidean", "cosine", "dot")  # distance to the nearest token

# --- discretization ------------------------------------------------------------------------------------


def nearest_tokens(prompt: torch.Tensor, embeddings: torch.Tensor, metric: str = "euclidean") -> torch.Tensor:
    """[L] index of the row of `embeddings` [V, d] nearest to each prompt vector [L, d]."""
    prompt, embeddings = prompt.detach().float(), embeddings.detach().float()
    if metric == "euclidean":
        return torch.cdist(prompt, embeddings).argmin(dim=1)
    if metric == "cosine":
        return (_unit(prompt) @ _unit(embeddings).T).argmax(dim=1)
    if metric == "dot":
        return (prompt @ embeddings.T).argmax(dim=1)
    raise ValueError(f"metric: expected one of {METRICS}, got {metric!r}")


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def project(prompt: torch.Tensor, embeddings: torch.Tensor, metric: str = "euclidean") -> list[int]:
    """The prompt discretized to token ids."""
    return nearest_tokens(prompt, embeddings, metric).tolist()


def projected_text(tokenizer, ids: list[int]) -> str:
    """`ids` decoded as one sequence. Nearest tokens need not form valid UTF-8 (a byte-level vocabulary holds
    lone bytes of multi-byte characters): bytes that are not part of a valid character are written as `\\xNN`,
    never as U+FFFD, so the text says which bytes the prompt chose."""
    raw = token_bytes(tokenizer, ids)
    if raw is None:  # not a byte-level vocabulary: its decoder is the only way back to text
        return tokenizer.decode(ids)
    return raw.decode("utf-8", errors="backslashreplace")


_BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def token_bytes(tokenizer, ids: list[int]) -> bytes | None:
    """The bytes `ids` stand for, for a byte-level BPE vocabulary (GPT-2, Llama 3) or a SentencePiece one
    with byte fallback (`<0xNN>` tokens, Llama 2); None for any other vocabulary. Special tokens are their
    text."""
    decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
    byte_level = decoder is not None and "ByteLevel" in repr(decoder)
    specials = set(getattr(tokenizer, "all_special_ids", []))
    tokens = tokenizer.convert_ids_to_tokens(ids)
    if not byte_level and not any(_BYTE_FALLBACK.fullmatch(t) for t in tokens):
        return None
    table = _unicode_to_byte() if byte_level else {}
    out = bytearray()
    for token_id, token in zip(ids, tokens, strict=True):
        fallback = _BYTE_FALLBACK.fullmatch(token)
        if fallback:
            out.append(int(fallback.group(1), 16))
        elif token_id in specials or not all(ch in table for ch in token):
            out += (token if byte_level else token.replace("\u2581", " ")).encode()
        else:
            out += bytes(table[ch] for ch in token)
    return bytes(out)


@cache
def _unicode_to_byte() -> dict[str, int]:
    """GPT-2's byte-level alphabet, inverted: the printable character that stands for each byte -> the byte."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[chr(byte)] = byte
        else:
            chars[chr(256 + extra)] = byte
            extra += 1
    return chars


def mean_distance(prompt: torch.Tensor, target_embeddings: torch.Tensor) -> float:
    """(1/L) · Σᵢ ‖pᵢ − E[wᵢ]‖: mean Euclidean distance of each prompt vector to its target token's embedding."""
    return float((prompt.detach().float() - target_embeddings.float()).norm(dim=-1).mean())


# --- faithfulness: SQuAD word-level F1 ---------------------------------------------------------------


def normalize_text(text: str) -> str:
    """SQuAD normalisation: lowercase, punctuation removed, articles (a, an, the) removed, whitespace collapsed."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def projection_f1(prediction: str, target: str) -> float:
    """Word-level F1 between the normalised words of `prediction` and `target` (1.0 when both are empty)."""
    predicted, gold = normalize_text(prediction).split(), normalize_text(target).split()
    if not predicted or not gold:
        return float(predicted == gold)
    overlap = sum((Counter(predicted) & Counter(gold)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(gold)
    return 2 * precision * recall / (precision + recall)
