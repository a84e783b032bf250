"""One-step off-policy overlap (`rlvr.async_mode`): the next rollout batch is generated while this one trains.

As open-instruct's `async_mode` (ppo_vllm_thread_ray_gtrl.py@9c2d44bec, the script that trained Tülu 3 8B, and
grpo_vllm_thread_ray_gtrl.py: "learns from the second latest policy like Cleanba"), rollout batch k is sampled by
the weights θ_{k-1} the policy had one update earlier, while θ_{k-1} → θ_k trains on batch k − 1:

    training_step k (prompts P_k):  wait for batch B_{k-1} (sampled from P_{k-1} by θ_{k-1})
                                    behaviour ← θ_k;  start sampling B_k from P_k by the behaviour, in a thread
                                    score and update on B_{k-1}: θ_k → θ_{k+1}, one step off-policy
The first step has nothing in flight: it samples B_0 from P_0 itself (on-policy) and starts B_0' from P_0 again,
so the first prompts are trained on twice and the last ones (sampled after the last update) never; open-instruct
does the same (it queues its first prompts twice).

Importance correction: the batch carries its behaviour policy's per-token log-probs as `old_logprobs`, so the
clipped ratio is ρ = π_θ / π_behaviour (PPO's π_old is the policy that sampled). With the HF backend they come from a
no-grad forward of the behaviour snapshot through the trainer's own `RLVRModule.local_logprobs` (ρ is exactly
1 when the weights are equal); with vLLM from the engine (its temperature-scaled log-probs). Note open-instruct
itself recomputes π_old with the learner after sampling (no correction for the lag: its first ratio is 1).

Behaviour policy: with HF, an unsharded copy of the policy (a full copy on each rank: its forwards in the thread
are local, no collective can interleave with the training's), refreshed from the policy's full state dict on the
main thread (a collective under FSDP2, at the same point on every rank), sampling with its own random generator
(seeded `seed + rank`) so the thread never draws from the training's. With vLLM, the engine: the policy's weights
are pushed before each batch is started, never while one is in flight.

Checkpoints: saving waits for the batch in flight and stores it (prompt/response tokens, behaviour log-probs,
rewards: small) with the generator's state; a resumed run trains on it first, as the uninterrupted run would have.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor

import torch

from tulu_lightning.export import full_state_dict
from tulu_lightning.models import frozen_copy
from tulu_lightning.rollout import HFRollout


class OneStepAhead:
    """The behaviour policy, its worker thread and the batch in flight, for `RLVRModule` (see the module
    docstring)."""

    def __init__(self, module):
        self.module = module  # the RLVRModule: its `generate`, `layout` and config
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollout")
        self.in_flight: Future | None = None
        self.restored: dict | None = None  # from a checkpoint: the batch that was in flight
        self.snapshot = None  # HF backend: the behaviour copy of the policy (not a registered submodule)
        self.generator: torch.Generator | None = None
        self.rollout = module.rollout  # vllm: the engine itself

    def start(self) -> None:
        """Build the behaviour policy on the module's device (from `on_fit_start`)."""
        module = self.module
        if module.cfg.rlvr.backend != "hf":
            return
        device = module.device
        self.snapshot = frozen_copy(unsharded(module.model, device)).to(device)
        seed = module.cfg.trainer.seed + (module.trainer.global_rank if module._trainer is not None else 0)
        self.generator = torch.Generator(device=device).manual_seed(seed)
        if self.restored is not None and "generator_state" in self.restored:
            self.generator.set_state(self.restored.pop("generator_state"))
        self.rollout = HFRollout(
            self.snapshot,
            module.tokenizer,
            batch_size=module.cfg.rlvr.generation_batch_size,
            generator=self.generator,
        )

    def next_batch(self, prompts: list[dict]) -> dict:
        """The batch to train on now, after starting the next one from `prompts`."""
        ready = self.take()
        self.refresh()
        if ready is None:  # nothing in flight (first step): sample this step's batch on-policy, here
            ready = self.produce(prompts)
        self.in_flight = self.thread.submit(self.produce, prompts)
        return ready

    def take(self) -> dict | None:
        if self.restored is not None:
            batch, self.restored = self.restored, None
            return {
                k: v.to(self.module.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()
            }
        if self.in_flight is None:
            return None
        batch, self.in_flight = self.in_flight.result(), None
        return batch

    @torch.no_grad()
    def refresh(self) -> None:
        """behaviour ← the policy's current weights (main thread, nothing in flight)."""
        if self.snapshot is not None:
            model = self.module.model
            sharded = any(isinstance(p, torch.distributed.tensor.DTensor) for p in model.parameters())
            self.snapshot.load_state_dict(
                full_state_dict(model, every_rank=True) if sharded else model.state_dict()
            )
        elif hasattr(self.rollout, "push_weights"):
            self.rollout.push_weights(self.module.model)

    @torch.no_grad()
    def produce(self, prompts: list[dict]) -> dict:
        """Sample, verify and lay out a batch with the behaviour policy, with its log-probs as `old_logprobs`."""
        module = self.module
        # the trainer's precision context (autocast is per thread), as around a training step's own rollout
        precision = module.trainer.precision_plugin if module._trainer is not None else None
        with precision.forward_context() if precision is not None else contextlib.nullcontext():
            batch = module.generate(prompts, rollout=self.rollout)
            sampled = batch.pop("sampler_logprobs")
            if self.snapshot is not None:
                batch["old_logprobs"] = module.local_logprobs(self.snapshot, batch)
                return batch
        logprobs = torch.zeros_like(batch["response_mask"])  # the engine's own log-probs of what it sampled
        for row, values in enumerate(sampled):
            logprobs[row, : len(values)] = torch.tensor(values)
        batch["old_logprobs"] = logprobs
        return batch

    def state(self) -> dict | None:
        """The batch in flight (waited for), on CPU, with the generator's state: for a checkpoint."""
        batch = self.restored
        if self.in_flight is not None:
            batch, self.in_flight = self.in_flight.result(), None
            self.restored = batch  # the next step trains on it, as it would have
        if batch is None:
            return None
        state = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        if self.generator is not None:
            state["generator_state"] = self.generator.get_state()
        return state

    def close(self) -> None:
        """Wait for the batch in flight (its result unused) and stop the thread."""
        if self.in_flight is not None:
            self.in_flight.result()
            self.in_flight = None
        self.thread.shutdown(wait=True)


def unsharded(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """A plain copy of `model` (gathered when it is FSDP2-sharded, a collective then)."""
    if not any(isinstance(p, torch.distributed.tensor.DTensor) for p in model.parameters()):
        return model
    state = full_state_dict(model, every_rank=True)
    copy = type(model)(model.config).to(device)
    copy.load_state_dict(state)
    return copy
