"""Loading a model and tokenizer from a hub name or local directory, or building a tiny one from scratch.

The tiny model is what tests and the demo use: a Llama-shaped network from `TinyModelConfig` and a byte-level
BPE tokenizer trained in a second on the training texts (digits split one per token, so arithmetic is learnable).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch

from tulu_lightning.chat import TULU_SPECIAL_TOKENS, ensure_chat_template
from tulu_lightning.config import ConfigError, ModelConfig, TinyModelConfig

PAD, EOS, BOS = "<|pad|>", "<|endoftext|>", "<|bos|>"
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# Qwen 2 / 2.5's pre-tokenizer regex (the `Split` pattern of their tokenizer.json)
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)


def qwen2_pipeline() -> dict:
    """Qwen 2 / 2.5's tokenizer pipeline, as `train_tiny_tokenizer` keywords: the NFC normalizer, their Split
    regex, ByteLevel without its own regex, the ByteLevel post-processor without trim_offsets (a tokenizer of
    that shape for tests and benchmarks, where no hub is reached)."""
    from tokenizers import Regex, normalizers, pre_tokenizers, processors

    return {
        "normalizer": normalizers.NFC(),
        "pre_tokenizer": pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(pattern=Regex(QWEN2_PATTERN), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        ),
        "post_processor": processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    }


def train_tiny_tokenizer(
    texts: Iterable[str], vocab_size: int, normalizer=None, pre_tokenizer=None, post_processor=None
):
    """A byte-level BPE `PreTrainedTokenizerFast` trained on `texts`, with pad/eos/bos and the chat markers. Its
    pipeline: no normalizer, digits split one per token then ByteLevel, unless given (`qwen2_pipeline()`)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer or pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    if post_processor is not None:
        tokenizer.post_processor = post_processor
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, EOS, BOS, *TULU_SPECIAL_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token=PAD, eos_token=EOS, bos_token=BOS)
    ensure_chat_template(wrapped)
    return wrapped


def build_tiny_model(tiny: TinyModelConfig, tokenizer, seed: int = 0, reward_head: bool = False):
    """A Llama-shaped model from `tiny`: a causal LM, or a sequence classifier with one output (`reward_head`)."""
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=tiny.hidden_size,
        intermediate_size=tiny.intermediate_size,
        num_hidden_layers=tiny.num_hidden_layers,
        num_attention_heads=tiny.num_attention_heads,
        num_key_value_heads=tiny.num_key_value_heads,
        max_position_embeddings=tiny.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if reward_head:
            config.num_labels = 1
            return LlamaForSequenceClassification(config)
        return LlamaForCausalLM(config)


def load_tokenizer(model_cfg: ModelConfig, texts: Iterable[str] | None = None):
    """The tokenizer of `model_cfg` (trained on `texts` for a tiny model), with a chat template (BOS as
    `model.add_bos` says, else as the tokenizer's own template did) and a pad token."""
    source = model_cfg.tokenizer or model_cfg.name_or_path
    if source is None:
        if model_cfg.tiny is None:
            raise ConfigError("model: set model.name_or_path or model.tiny")
        if texts is None:
            raise ConfigError("model.tiny needs training texts to train its tokenizer")
        tokenizer = train_tiny_tokenizer(texts, model_cfg.tiny.vocab_size)
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=model_cfg.trust_remote_code)
    ensure_chat_template(tokenizer, model_cfg.chat_template, model_cfg.add_bos)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(model_cfg: ModelConfig, tokenizer, seed: int = 0, reward_head: bool = False):
    """The model of `model_cfg` (hub name, local directory, or the tiny one built from `seed`). With
    `reward_head`, an `AutoModelForSequenceClassification` with one output (a reward or value model): from a
    causal-LM checkpoint its backbone is loaded and the scalar head is new."""
    if model_cfg.dtype not in _DTYPES:
        raise ConfigError(f"model.dtype: expected one of {sorted(_DTYPES)}, got {model_cfg.dtype!r}")
    if model_cfg.name_or_path is None:
        model = build_tiny_model(model_cfg.tiny or TinyModelConfig(), tokenizer, seed, reward_head)
        model.to(_DTYPES[model_cfg.dtype])
    else:
        from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

        kwargs = {"dtype": _DTYPES[model_cfg.dtype], "trust_remote_code": model_cfg.trust_remote_code}
        if model_cfg.attn_implementation:
            kwargs["attn_implementation"] = model_cfg.attn_implementation
        if reward_head:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)  # the new head is initialised from the run's seed
                model = AutoModelForSequenceClassification.from_pretrained(
                    model_cfg.name_or_path, num_labels=1, **kwargs
                )
        else:
            model = AutoModelForCausalLM.from_pretrained(model_cfg.name_or_path, **kwargs)
    if reward_head:
        model.config.pad_token_id = tokenizer.pad_token_id
    if model_cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.config.use_cache = False
    return model


def disable_dropout(model: torch.nn.Module) -> None:
    """Dropout off (Tülu 3, for DPO and RL): the policy and its reference, or the policy that sampled and the one
    that is scored, must be the same function."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if isinstance(getattr(module, "attention_dropout", None), float):
            module.attention_dropout = 0.0


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A frozen, eval-mode copy (the reference policy of DPO and RL)."""
    reference = copy.deepcopy(model).eval()
    reference.requires_grad_(False)
    return reference
