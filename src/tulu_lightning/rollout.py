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
    """Rollouts from a Hugging Face causal LM, decoded over its KV cache by a short loop of our own instead of
    `generate`, to spend no forward on work whose result is thrown away:
      - each prompt is prefilled once, and its cache rows repeated for its `n` samples (generate would prefill
        the prompt n times);
      - a finished sequence leaves the batch with its cache rows, so later steps forward only the live ones
        (generate keeps feeding padding until the longest stops).
    Sampling is generate's: softmax(logits / T), top-p filtered, one `torch.multinomial` draw per live row and
    step; greedy is argmax. The model's own `generation_config` (often T = 0.6, top-p 0.9) is never applied: the
    policy samples at exactly `params`. Works on any module with an HF causal-LM forward, also FSDP2-sharded on
    several ranks: forwards are then collective, so a rank whose sequences have all finished keeps forwarding
    one token until every rank is done (what generate's `synced_gpus` does)."""

    def __init__(self, model, tokenizer, batch_size: int = 64, generator: torch.Generator | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size  # sequences per decoding batch (at least one prompt's n samples)
        self.generator = generator  # draws from this generator, else torch's global one

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Completion]:
        stop_ids = sorted({self.tokenizer.eos_token_id, *params.stop_token_ids} - {None})
        prompts_per_batch = max(1, self.batch_size // params.n)
        was_training = self.model.training
        self.model.eval()
        generator_state = torch.random.get_rng_state()
        if params.seed is not None:
            torch.manual_seed(params.seed)
        try:
            completions = []
            for start in range(0, len(prompts), prompts_per_batch):
                chunk = list(enumerate(prompts))[start : start + prompts_per_batch]
                completions += self._generate_batch(chunk, params, stop_ids)
            return completions
        finally:
            if params.seed is not None:
                torch.random.set_rng_state(generator_state)
            self.model.train(was_training)

    def _generate_batch(
        self, chunk: list[tuple[int, list[int]]], params: SamplingParams, stop_ids: list[int]
    ) -> list[Completion]:
        device = next(self.model.parameters()).device
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else stop_ids[0]
        width = max(len(ids) for _, ids in chunk)
        input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, (_, ids) in enumerate(chunk):  # left padding: every row continues from the last column
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            attention_mask[row, width - len(ids) :] = 1
        input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
        positions = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
        output = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
        )
        cache_key = (
            "cache" if hasattr(output, "cache") else "past_key_values"
        )  # its name before transformers 5
        cache, logits = getattr(output, cache_key), output.logits[:, -1].float()
        if params.n > 1:  # one prefill per prompt, its cache shared by its n samples
            cache.batch_repeat_interleave(params.n)
            logits = logits.repeat_interleave(params.n, dim=0)
            attention_mask = attention_mask.repeat_interleave(params.n, dim=0)
            positions = positions.repeat_interleave(params.n, dim=0)
        next_position = positions[:, -1:] + 1
        live = torch.arange(len(logits), device=device)  # the rows still generating, by their index
        tokens: list[list[int]] = [[] for _ in range(len(logits))]
        logprobs: list[list[float]] = [[] for _ in range(len(logits))]
        stop = torch.tensor(stop_ids, device=device)
        synced = _collective_forwards(self.model)
        for step in range(params.max_tokens):
            if len(live):
                token, logprob = _sample(logits, params, self.generator)
                for row, t, lp in zip(live.tolist(), token.tolist(), logprob.tolist()):
                    tokens[row].append(t)
                    logprobs[row].append(lp)
                going = ~torch.isin(token, stop)
                if not going.all():  # finished rows leave the batch, and the cache
                    kept = going.nonzero().squeeze(1)
                    live, token = live[kept], token[kept]
                    attention_mask, next_position = attention_mask[kept], next_position[kept]
                    cache.batch_select_indices(kept)
            if step == params.max_tokens - 1 or not (
                _any_rank(len(live) > 0, device) if synced else len(live)
            ):
                break
            if not len(live):  # this rank is done, another is not: take part in its collective forward
                self.model(input_ids=input_ids[:1, -1:], use_cache=False)
                continue
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones(len(live), 1)], dim=1)
            output = self.model(
                input_ids=token.unsqueeze(1),
                attention_mask=attention_mask,
                position_ids=next_position,
                **{cache_key: cache},
                use_cache=True,
            )
            logits = output.logits[:, -1].float()
            next_position = next_position + 1
        prompt_indices = [index for index, _ in chunk for _ in range(params.n)]
        return [
            self._completion(index, tokens[row], logprobs[row], stop_ids)
            for row, index in enumerate(prompt_indices)
        ]

    def _completion(self, prompt_index: int, tokens: list[int], logprobs: list[float], stop_ids: list[int]):
        stop_at = next((i for i, token in enumerate(tokens) if token in stop_ids), None)
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return Completion(prompt_index, tokens, text, logprobs, "stop" if stop_at is not None else "length")


def _sample(
    logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The next token of each row, and its log-prob under logits / T (raw logits when greedy), as generate
    samples: argmax, else one multinomial draw from softmax(logits / T) after top-p filtering."""
    if params.temperature == 0:
        token = logits.argmax(dim=-1)
        return token, torch.log_softmax(logits, dim=-1).gather(-1, token.unsqueeze(-1)).squeeze(-1)
    scores = logits / params.temperature
    logprobs = torch.log_softmax(scores, dim=-1)
    if params.top_p < 1:
        from transformers.generation.logits_process import TopPLogitsWarper

        scores = TopPLogitsWarper(params.top_p)(None, scores)
    token = torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator).squeeze(1)
    return token, logprobs.gather(-1, token.unsqueeze(-1)).squeeze(-1)


def _collective_forwards(model) -> bool:
    """Whether every rank must run each forward (an FSDP2-sharded model on several processes)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return False
    from torch.distributed.fsdp import FSDPModule

    return any(isinstance(module, FSDPModule) for module in model.modules())


def _any_rank(live: bool, device: torch.device) -> bool:
    """Whether any rank still has live rows (a collective: every rank calls it once per step)."""
    import torch.distributed as dist

    flag = torch.tensor(1.0 if live else 0.0, device=device)
    dist.all_reduce(flag)
    return bool(flag.item() > 0)
