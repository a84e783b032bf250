"""One rollout interface for RLVR and evaluation: prompts in, sampled completions with log-probs out.

Backends: `HFRollout` (Hugging Face `generate`: batched, KV cache, left padding; CPU and GPU) and, for GPU users,
`VLLMRollout` in `tulu_lightning.rollout_vllm` (optional extra `tulu_lightning[vllm]`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch


@dataclass
class SamplingParams:
    n: int = 1  # samples per prompt
    temperature: float = 1.0  # 0 means greedy
    top_p: float = 1.0
    max_tokens: int = 128
    stop_token_ids: list[int] = field(default_factory=list)  # the tokenizer's EOS is always a stop token
    seed: int | None = None


@dataclass
class Completion:
    prompt_index: int
    token_ids: list[int]  # generated tokens, up to and including the stop token
    text: str  # decoded, special tokens removed
    logprobs: list[
        float
    ]  # log-prob of each generated token under logits / temperature (raw logits if greedy)
    finish_reason: str  # "stop" (a stop token was generated) or "length"


class RolloutBackend(Protocol):
    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Completion]:
        """Completions for each prompt (token ids), `params.n` per prompt, grouped by prompt in order."""
        ...


class HFRollout:
    """Rollouts with `model.generate`. Works on any module with a Hugging Face `generate` (also FSDP2-sharded,
    provided every rank calls it with the same prompts)."""

    def __init__(self, model, tokenizer, batch_size: int = 64):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Completion]:
        expanded = [(index, ids) for index, ids in enumerate(prompts) for _ in range(params.n)]
        stop_ids = sorted({self.tokenizer.eos_token_id, *params.stop_token_ids} - {None})
        was_training = self.model.training
        self.model.eval()
        generator_state = torch.random.get_rng_state()
        if params.seed is not None:
            torch.manual_seed(params.seed)
        try:
            completions = []
            for start in range(0, len(expanded), self.batch_size):
                chunk = expanded[start : start + self.batch_size]
                completions += self._generate_batch(chunk, params, stop_ids)
            return completions
        finally:
            if params.seed is not None:
                torch.random.set_rng_state(generator_state)
            self.model.train(was_training)

    def _generate_batch(
        self, chunk: list[tuple[int, list[int]]], params: SamplingParams, stop_ids: list[int]
    ):
        device = next(self.model.parameters()).device
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else stop_ids[0]
        width = max(len(ids) for _, ids in chunk)
        input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, (_, ids) in enumerate(chunk):  # left padding: generation continues from the last column
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            attention_mask[row, width - len(ids) :] = 1
        greedy = params.temperature == 0
        output = self.model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            max_new_tokens=params.max_tokens,
            do_sample=not greedy,
            temperature=None if greedy else params.temperature,
            top_p=None if greedy else params.top_p,
            top_k=None,
            eos_token_id=stop_ids,
            pad_token_id=pad_id,
            use_cache=True,
            return_dict_in_generate=True,
            output_logits=True,
        )
        new_tokens = output.sequences[:, width:].cpu()
        logits = torch.stack(output.logits, dim=1).float().cpu()  # [batch, new_tokens, vocab]
        if not greedy:
            logits = logits / params.temperature
        token_logprobs = torch.log_softmax(logits, dim=-1).gather(-1, new_tokens.unsqueeze(-1)).squeeze(-1)
        return [
            self._completion(prompt_index, new_tokens[row].tolist(), token_logprobs[row].tolist(), stop_ids)
            for row, (prompt_index, _) in enumerate(chunk)
        ]

    def _completion(self, prompt_index: int, tokens: list[int], logprobs: list[float], stop_ids: list[int]):
        stop_at = next((i for i, token in enumerate(tokens) if token in stop_ids), None)
        if stop_at is not None:
            tokens, logprobs = tokens[: stop_at + 1], logprobs[: stop_at + 1]
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return Completion(prompt_index, tokens, text, logprobs, "stop" if stop_at is not None else "length")
