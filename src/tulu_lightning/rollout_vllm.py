"""vLLM rollouts, colocated on the training GPU (optional extra `tulu_lightning[vllm]`; GPU only).

Same interface as `HFRollout`: `generate(prompts, params) -> list[Completion]`. The engine is built once from the
policy's Hugging Face directory; after every optimizer update, `push_weights(model)` copies the policy's current
weights into the engine (in place, no reload), so rollouts always come from the policy being trained; a resumed
fit pushes the checkpoint's before its first rollout.

The engine reports each sampled token's log-prob after temperature (`logprobs_mode="processed_logprobs"`, vLLM ≥
0.10.2), as `HFRollout` does; with top-p < 1 vLLM's are renormalised over the nucleus it sampled from. Tested on
CPU against a stand-in engine (tests/fake_vllm); never run here on a GPU.
"""

from __future__ import annotations

import os

import torch

from tulu_lightning.export import full_state_dict
from tulu_lightning.rollout import Completion, SamplingParams


class VLLMRollout:
    def __init__(
        self, model_dir: str, tokenizer, gpu_memory_utilization: float = 0.3, seed: int = 0, **engine_kwargs
    ):
        # In-process engine, so the colocated worker's model is reachable for in-place weight updates.
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from vllm import LLM

        self.tokenizer = tokenizer
        self.llm = LLM(
            model=model_dir,
            gpu_memory_utilization=gpu_memory_utilization,
            enable_sleep_mode=False,
            seed=seed,
            # the sampled tokens' log-probs under softmax(logits / T), the policy that sampled (async_mode's
            # behaviour log-probs); vLLM's default, "raw_logprobs", is before temperature (TRL #4163 and
            # open-instruct #1678 fixed the same)
            logprobs_mode="processed_logprobs",
            **engine_kwargs,
        )

    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Completion]:
        from vllm import SamplingParams as VLLMSamplingParams
        from vllm.inputs import TokensPrompt

        greedy = params.temperature == 0
        sampling = VLLMSamplingParams(
            n=params.n,
            temperature=params.temperature,
            top_p=1.0 if greedy else params.top_p,
            max_tokens=params.max_tokens,
            stop_token_ids=sorted({self.tokenizer.eos_token_id, *params.stop_token_ids} - {None}),
            logprobs=0,  # the sampled token's log-prob (processed: after temperature and top-p)
            seed=params.seed,
        )
        outputs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=ids) for ids in prompts], sampling, use_tqdm=False
        )
        completions = []
        for index, output in enumerate(outputs):
            for sample in output.outputs:
                tokens = list(sample.token_ids)
                logprobs = [step[token].logprob for step, token in zip(sample.logprobs or [], tokens)]
                text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                finish = "stop" if sample.finish_reason == "stop" else "length"
                completions.append(Completion(index, tokens, text, logprobs, finish))
        return completions

    @torch.no_grad()
    def push_weights(self, model: torch.nn.Module) -> None:
        """Load the policy's current (gathered onto every rank, if sharded: each rank has its own engine) weights
        into the engine's model."""
        state = full_state_dict(model, every_rank=True)
        engine = self.llm.llm_engine
        executor = getattr(engine, "model_executor", None)
        if executor is not None and hasattr(executor, "driver_worker"):  # in-process executor
            executor.driver_worker.model_runner.model.load_weights(state.items())
        else:  # current API: run the load on every worker
            self.llm.collective_rpc(_load_weights, args=(list(state.items()),))
        self.llm.reset_prefix_cache()  # cached KV blocks were computed by the old weights


def _load_weights(worker, weights) -> None:
    worker.model_runner.model.load_weights(weights)
