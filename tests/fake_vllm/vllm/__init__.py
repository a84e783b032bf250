"""A stand-in for vLLM's offline API (`vllm.LLM`, `vllm.SamplingParams`, `vllm.inputs.TokensPrompt`) for tests on
machines without a GPU: the calls `tulu_lightning.rollout_vllm` makes, answered by the Hugging Face model of the
engine's directory on CPU, so that the adapter and the trainer's vLLM path run for real here.

What it copies from vLLM (V1, ≥ 0.10.2), because our code depends on it:
- sampling: softmax(logits / T) after top-p, one draw per token, up to `max_tokens` or a stop token;
- the sampled token's log-prob by the engine's `logprobs_mode`: "raw_logprobs" (vLLM's default: log softmax of
  the model's logits, *before* temperature) or "processed_logprobs" (after temperature and top-p; see vLLM's
  `--logprobs-mode` and `v1/sample/sampler.py`);
- `collective_rpc(fn, args)` calls `fn(worker, *args)` on its one worker, whose `model_runner.model.load_weights`
  takes (name, tensor) pairs; `reset_prefix_cache()`.
It also records, for the tests, the engine's weights at every `generate` call (`LLM.generations`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import torch

ENGINES: list[LLM] = []  # every engine built, in order


@dataclass
class SamplingParams:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = 16
    stop_token_ids: list[int] = field(default_factory=list)
    logprobs: int | None = None
    seed: int | None = None


@dataclass
class Logprob:
    logprob: float


class _EngineModel:
    """The worker's model: loads pushed weights into the HF model in place."""

    def __init__(self, hf_model):
        self.hf = hf_model

    def load_weights(self, weights) -> None:
        state = dict(weights)
        missing, unexpected = self.hf.load_state_dict(state, strict=False)
        tied = {"lm_head.weight"} if self.hf.config.tie_word_embeddings else set()
        assert not unexpected and set(missing) <= tied, (missing, unexpected)


class LLM:
    def __init__(self, model: str, seed: int = 0, logprobs_mode: str = "raw_logprobs", **engine_kwargs):
        from transformers import AutoModelForCausalLM

        assert logprobs_mode in ("raw_logprobs", "processed_logprobs"), logprobs_mode
        self.logprobs_mode = logprobs_mode
        self.engine_kwargs = engine_kwargs
        self.hf = AutoModelForCausalLM.from_pretrained(model).eval()
        self.worker = SimpleNamespace(model_runner=SimpleNamespace(model=_EngineModel(self.hf)))
        self.llm_engine = SimpleNamespace()  # V1: no `model_executor.driver_worker`
        self.seed = seed
        self.generations: list[dict[str, torch.Tensor]] = []
        self.prefix_cache_resets = 0
        ENGINES.append(self)

    def collective_rpc(self, method, args=()):
        return [method(self.worker, *args)]

    def reset_prefix_cache(self) -> None:
        self.prefix_cache_resets += 1

    @torch.no_grad()
    def generate(self, prompts, sampling: SamplingParams, use_tqdm: bool = True):
        self.generations.append({k: v.clone() for k, v in self.hf.state_dict().items()})
        generator = torch.Generator().manual_seed(self.seed if sampling.seed is None else sampling.seed)
        return [
            SimpleNamespace(
                outputs=[self._sample(p["prompt_token_ids"], sampling, generator) for _ in range(sampling.n)]
            )
            for p in prompts
        ]

    def _sample(self, prompt: list[int], sampling: SamplingParams, generator: torch.Generator):
        ids, tokens, logprobs, finish = list(prompt), [], [], "length"
        for _ in range(sampling.max_tokens):
            logits = self.hf(input_ids=torch.tensor([ids])).logits[0, -1].float()
            scores = logits / sampling.temperature
            if sampling.top_p < 1:  # the nucleus: the most likely tokens whose mass reaches top_p
                probs, order = torch.softmax(scores, -1).sort(descending=True)
                outside = probs.cumsum(-1) - probs >= sampling.top_p
                scores[order[outside]] = float("-inf")
            token = int(torch.multinomial(torch.softmax(scores, -1), 1, generator=generator))
            processed = self.logprobs_mode == "processed_logprobs"
            logprob = torch.log_softmax(scores if processed else logits, -1)[token]
            tokens.append(token)
            logprobs.append({token: Logprob(float(logprob))})
            ids.append(token)
            if token in sampling.stop_token_ids:
                finish = "stop"
                break
        wanted = sampling.logprobs is not None
        return SimpleNamespace(token_ids=tokens, logprobs=logprobs if wanted else None, finish_reason=finish)
