"""Reinforcement learning with verifiable rewards (Tülu 3 stage 3): what PPO and GRPO share.

Every training batch is a batch of prompts, and one `training_step` runs
  rollout    the current policy samples `n` responses per prompt (HFRollout: eval mode, no grad)
  reward     each response is scored by its row's verifier (`dataset`: gsm8k, math, ifeval, ...) in one
             batched call to the Rust verifiers; α = `verifiable_reward` if verified, else 0
  scoring    the trainer recomputes the old policy's and the frozen reference's per-token log-probs (logits
             divided by the sampling temperature before the log-softmax; the generator's are not trusted)
  advantage  the algorithm's: GAE over a learned value (ppo.py) or group-relative (grpo.py)
  update     K epochs over shuffled minibatches, one optimizer step per minibatch
So one `training_step` makes K × num_minibatches optimizer steps: `trainer.max_steps` and the LR schedule count
optimizer steps (a minibatch with nothing to learn from still counts one, which changes no weight), so
`max_steps` sizes a run; `val_check_interval` counts rollout batches.

No pass is run whose result would not change the step: rows the algorithm drops (GRPO's groups whose rewards are
all equal) are neither scored nor back-propagated; with β = 0 there is no reference model; with one epoch of one
minibatch the old policy *is* the policy being trained, so the update's own forward gives π_old (detached: the
ratio is 1 and its gradient ∇log π, as with a separate forward) and no scoring forward is needed — for PPO also
V_old, when the batch is one forward chunk (its advantages are whitened over the whole batch: `PPOModule.one_pass`).

With `async_mode` (objectives/offpolicy.py) the batch a step trains on was sampled, one update earlier, by the
policy's previous weights while the previous batch trained: its `old_logprobs` are that behaviour policy's.

Tensors of a rollout batch are laid out as [prompt left-padded to P | response right-padded to L], so the
response's log-probs, values and rewards are all [N, L], aligned on the response tokens.
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from lightning.pytorch.utilities import rank_zero_warn

from tulu_lightning.config import ConfigError, RunConfig, check_range
from tulu_lightning.data import load_train_val
from tulu_lightning.evaluation import generation_accuracy
from tulu_lightning.models import disable_dropout, frozen_copy
from tulu_lightning.objectives.base import PostTrainingModule, StepDataModule, data_tokenizer
from tulu_lightning.objectives.offpolicy import OneStepAhead
from tulu_lightning.prepared import Examples, Recipe, Store, prepare
from tulu_lightning.rewards import verify_batch
from tulu_lightning.rollout import HFRollout, RolloutBackend, SamplingParams
from tulu_lightning.schemas import Schema, known_default, validate_splits

KL_ESTIMATORS = ("k1", "k2", "k3")
LOG_RATIO_CLAMP = 40.0


@dataclass
class RLVRSection:
    samples_per_prompt: int = 1  # n responses per prompt (GRPO's group size)
    temperature: float = 1.0  # sampling temperature of the training rollouts
    top_p: float = 1.0  # nucleus sampling of the training rollouts (1: off)
    max_new_tokens: int = 128  # longest response per rollout
    stop_token_ids: list[int] = field(default_factory=list)  # EOS always stops
    verifiable_reward: float = 10.0  # α: the reward of a verified response (0 otherwise)
    non_eos_penalty: bool = False  # a response that never emitted EOS gets `non_eos_reward` instead
    non_eos_reward: float = -10.0  # the reward of such a response when non_eos_penalty
    beta: float = 0.05  # KL coefficient to the reference policy
    clip_low: float = 0.2  # ratio clipped to [1 - clip_low, 1 + clip_high]
    clip_high: float = 0.2  # upper clip (DAPO's clip-higher when > clip_low)
    update_epochs: int = 1  # K passes over each rollout batch
    num_minibatches: int = 1  # optimizer steps per pass
    forward_batch_size: int = 64  # sequences per forward/backward (memory; does not change the step)
    generation_batch_size: int = 64  # sequences per `generate` call
    default_verifier: str = "gsm8k"  # for rows without a `dataset` field
    eval_at_start: bool = True  # log val/accuracy of the starting policy at step 0 (eval.enabled)
    backend: str = (
        "hf"  # hf | vllm (GPU only: a colocated engine, the policy's weights pushed after every update)
    )
    vllm_gpu_memory_utilization: float = 0.3  # fraction of GPU memory the vLLM engine may take
    # one-step off-policy overlap (open-instruct's async_mode, objectives/offpolicy.py): the next rollout batch
    # is sampled, in a thread, by the policy one update behind while this one trains; ρ = π_θ / π_behaviour
    async_mode: bool = False


def validate_rlvr(cfg: RunConfig) -> None:
    r = cfg.rlvr
    for key in ("samples_per_prompt", "update_epochs", "num_minibatches", "max_new_tokens"):
        check_range(f"rlvr.{key}", getattr(r, key), ge=1)
    for key in ("forward_batch_size", "generation_batch_size"):
        check_range(f"rlvr.{key}", getattr(r, key), ge=1)
    check_range("rlvr.max_new_tokens", r.max_new_tokens, lt=cfg.data.max_seq_length)  # room for a prompt
    check_range("rlvr.temperature", r.temperature, gt=0)  # training rollouts must sample
    check_range("rlvr.top_p", r.top_p, gt=0, le=1)
    for key in ("clip_low", "clip_high", "beta"):
        check_range(f"rlvr.{key}", getattr(r, key), ge=0)
    check_range("rlvr.vllm_gpu_memory_utilization", r.vllm_gpu_memory_utilization, gt=0, le=1)
    if r.backend not in ("hf", "vllm"):
        raise ConfigError(f"rlvr.backend: expected 'hf' or 'vllm', got {r.backend!r}")
    if r.backend == "vllm" and cfg.model.name_or_path is None:
        raise ConfigError("rlvr.backend=vllm needs model.name_or_path (the engine loads the HF directory)")
    per_batch = r.update_epochs * r.num_minibatches
    if cfg.trainer.max_steps != -1 and cfg.trainer.max_steps % per_batch:
        raise ConfigError(
            f"trainer.max_steps: counts optimizer steps, {per_batch} per rollout batch (rlvr.update_epochs × "
            f"rlvr.num_minibatches): expected a multiple of {per_batch}, got {cfg.trainer.max_steps}"
        )


# --- the math: each a small function over [N, L] response tensors ------------------------------------------


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1)


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / std over the masked entries (unbiased variance, as open-instruct's `masked_whiten`)."""
    mean = masked_mean(values, mask)
    var = ((values - mean) ** 2 * mask).sum() / (mask.sum() - 1).clamp(min=1)
    return (values - mean) * torch.rsqrt(var + eps) * mask


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """log softmax(logits / T)[target] per position, in float32: the policy that actually sampled at T."""
    logits = logits.float() / temperature
    return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def entropy(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per-position entropy of softmax(logits / T)."""
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def kl_estimate(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, kind: str = "k3") -> torch.Tensor:
    """Per-token estimators of KL(π ‖ π_ref) from samples of π (Schulman, "Approximating KL divergence", 2020),
    with log r = log π_ref − log π:  k1 = −log r,  k2 = ½ (log r)²,  k3 = (r − 1) − log r  (unbiased, ≥ 0).
    log r is clamped to ±40 first, as grpo_fast.py does (open-instruct@8fcf6f3ce; exp(40) is still finite in
    float32, and a token that far from the reference gets no gradient from this term)."""
    log_ratio = (ref_logprobs - logprobs).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    if kind == "k1":
        return -log_ratio
    if kind == "k2":
        return 0.5 * log_ratio**2
    if kind == "k3":
        return torch.expm1(log_ratio) - log_ratio
    raise ValueError(f"unknown KL estimator {kind!r}; expected one of {KL_ESTIMATORS}")


def clipped_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    clip_low: float,
    clip_high: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate per token (Schulman et al. 2017), with DAPO's asymmetric "clip-higher" range:
        ρ = exp(log π − log π_old),  loss = max(−A·ρ, −A·clip(ρ, 1 − ε_low, 1 + ε_high)).
    Returns (loss, clipped: where the clipped term was the larger, ρ)."""
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    return torch.maximum(unclipped, clipped), (clipped > unclipped), ratio


def clipped_value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, clip: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped value loss per token: ½ max((V − R)², (V_old + clip(V − V_old, ±ε) − R)²).
    Returns (loss, clipped: where the clipped term was the larger)."""
    clipped_values = old_values + torch.clamp(values - old_values, -clip, clip)
    unclipped_loss = (values - returns) ** 2
    clipped_loss = (clipped_values - returns) ** 2
    return 0.5 * torch.maximum(unclipped_loss, clipped_loss), (clipped_loss > unclipped_loss)


def generalized_advantages(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE (Schulman et al. 2016) over each response: δ_t = r_t + γ V_{t+1} − V_t (V after the last token is 0),
    A_t = δ_t + γλ A_{t+1}; returns R_t = A_t + V_t. `mask` marks the response tokens (a prefix of each row)."""
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0])
    next_advantage = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_advantage = (delta + gamma * lam * next_advantage) * mask[:, t]
        advantages[:, t] = next_advantage
        next_value = values[:, t]
    return advantages, advantages + values


def group_advantages(
    scores: torch.Tensor, group_size: int, std_normalize: bool = False, eps: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor]:
    """GRPO's advantage per response (Shao et al. 2024): its score minus its group's mean (Dr. GRPO's "centered"),
    or divided by the group's std + ε too (`std_normalize`; the population std, ddof 0, and ε = 1e-8, as
    grpo_fast.py's numpy `std` at open-instruct@8fcf6f3ce). Scores are grouped by prompt: [g0 × n, g1 × n, ...].
    Returns (advantages, keep): groups whose scores are all equal carry no signal and are dropped."""
    groups = scores.view(-1, group_size)
    centered = groups - groups.mean(dim=1, keepdim=True)
    std = groups.std(dim=1, keepdim=True, unbiased=False)
    advantages = centered / (std + eps) if std_normalize else centered
    keep = (std > 0).expand_as(groups)
    return advantages.flatten(), keep.flatten()


def sequence_scores(
    correct: torch.Tensor, stopped: torch.Tensor, alpha: float, non_eos_reward: float | None
) -> torch.Tensor:
    """Verifiable reward per response: α × verifier score, replaced by `non_eos_reward` (Tülu 3: −10) for a
    response that never emitted EOS when that penalty is on."""
    scores = alpha * correct
    if non_eos_reward is not None:
        scores = torch.where(stopped, scores, torch.full_like(scores, non_eos_reward))
    return scores


def kl_penalized_rewards(
    scores: torch.Tensor,
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor | None,
    mask: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Tülu 3 PPO's per-token reward: −β (log π − log π_ref) at every response token, plus the sequence score at
    its last token (no KL term without a reference: β = 0)."""
    kl_term = (logprobs - ref_logprobs) if ref_logprobs is not None else torch.zeros_like(logprobs)
    rewards = -beta * kl_term * mask
    last = mask.sum(dim=1).long().clamp(min=1) - 1
    rewards[torch.arange(len(scores)), last] += scores
    return rewards


def explained_variance(predictions: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> float:
    """1 − Var(target − prediction) / Var(target) over the masked entries (1 = perfect, ≤ 0 = useless)."""
    target_var = masked_mean((targets - masked_mean(targets, mask)) ** 2, mask)
    residual = targets - predictions
    residual_var = masked_mean((residual - masked_mean(residual, mask)) ** 2, mask)
    return float(1 - residual_var / target_var) if target_var > 0 else float("nan")


# --- model passes ------------------------------------------------------------------------------------------


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that start at 0 on each row's first real token (the prompts are left-padded)."""
    return (attention_mask.cumsum(dim=1) - 1).clamp(min=0)


def response_logits(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits predicting each response token: [N, L, vocab] (positions P − 1 ... P + L − 2)."""
    length = batch["responses"].shape[1]
    output = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=position_ids(batch["attention_mask"]),
        logits_to_keep=length + 1,
        use_cache=False,
    )
    return output.logits[:, :-1]


def head_outputs(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Scalar head of an `AutoModelForSequenceClassification` (reward or value model) at the states before each
    response token and after the last: [N, L + 1]; column t is V(prompt, response[:t])."""
    length = batch["responses"].shape[1]
    backbone = getattr(model, model.base_model_prefix)
    hidden = backbone(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=position_ids(batch["attention_mask"]),
        use_cache=False,
    ).last_hidden_state
    return model.score(hidden[:, -(length + 1) :]).squeeze(-1).float()


def load_scalar_model(source: str | None, policy, dtype: torch.dtype | None = None):
    """A sequence-classification model with one output: from an HF directory (e.g. a reward model, whose head
    is kept), else the policy's own backbone weights with a fresh zero head (so V starts at 0)."""
    from transformers import AutoModelForSequenceClassification

    if source is not None:
        model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1, dtype=dtype)
    else:
        config = copy.deepcopy(policy.config)
        config.num_labels = 1
        config.architectures = None
        model = AutoModelForSequenceClassification.from_config(config, dtype=policy.dtype)
        backbone = getattr(policy, policy.base_model_prefix)
        getattr(model, model.base_model_prefix).load_state_dict(backbone.state_dict())
        torch.nn.init.zeros_(model.score.weight)
    model.config.use_cache = False
    disable_dropout(model)
    return model


# --- data: prompts ---------------------------------------------------------------------------------------


class PromptDataModule(StepDataModule):
    """Serves RLVR prompts from the prepared store (`prepared.py`: tokenized up to the generation prompt, with
    their ground truths and verifiers; those that leave no room for `max_new_tokens` dropped and counted, as
    open-instruct filters prompts over `max_prompt_token_length`). Each training step is `micro_batch_size ×
    gradient_accumulation_steps` prompts per rank (the rollout batch); the first `eval.max_prompts` validation rows
    feed the held-out generation accuracy."""

    def __init__(self, cfg: RunConfig, tokenizer, store: Store):
        super().__init__(cfg.trainer, cfg.data.num_workers, cfg.data.shuffle_seed)
        self.cfg, self.tokenizer, self.store = cfg, tokenizer, store
        self.val_rows = store.val_rows(cfg.eval.max_prompts) if cfg.eval.enabled else []

    def setup(self, stage: str | None = None) -> None:
        if self.train_items:
            return
        self.train_items = PromptItems(self.store.train)
        self.counts["dropped_prompts"] = self.store.counts["dropped_prompts"]
        if self.cfg.eval.enabled:
            self.val_items = self.first_val_prompts()
            self.counts["val_dropped_prompts"] = len(self.val_rows) - len(self.val_items)
        self.counts["train_prompts"] = len(self.train_items)

    def first_val_prompts(self) -> list[dict]:
        """The prepared prompts of the validation rows `val_rows` (the first `eval.max_prompts`): the store keeps
        the validation rows' prompts in their order, so they are its first ones, matched by `where`."""
        prompts, kept = [], PromptItems(self.store.val)
        for row in self.val_rows:
            if len(prompts) < len(kept) and kept[len(prompts)]["where"] == row["where"]:
                prompts.append(kept[len(prompts)])
        return prompts

    def collate(self, rows: list[dict]) -> dict:
        return {"prompts": rows}


class PromptItems(Sequence):
    """Prepared prompts as the loop takes them: `{"prompt_ids": [int], "ground_truth", "verifier", "where"}`,
    each read from the store when it is asked for."""

    def __init__(self, examples: Examples):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        item = self.examples[index]
        return {**item, "prompt_ids": item["prompt_ids"].tolist()}


def load_prompt_rows(cfg: RunConfig) -> tuple[list[dict], list[dict]]:
    """Validated prompts with their ground truths and verifiers (training and validation)."""
    train_rows, val_rows = load_train_val(cfg.data)
    return validate_splits([(train_rows, prompt_schema(cfg)), (val_rows, prompt_schema(cfg))])


def prompt_schema(cfg: RunConfig) -> Schema:
    """The prompt rows' schema, its default verifier by its canonical name (a config error if unknown)."""
    schema = Schema("prompt", default_verifier=cfg.rlvr.default_verifier, default_key="rlvr.default_verifier")
    return known_default(schema)


def prompt_recipe(cfg: RunConfig) -> Recipe:
    """How the store prepares this config's prompts (part of its key): a prompt may use what the response leaves
    of `data.max_seq_length`."""
    return Recipe(
        kind="prompt",
        max_length=cfg.data.max_seq_length - cfg.rlvr.max_new_tokens,
        keep_truncated=False,
        default_verifier=prompt_schema(cfg).default_verifier,
    )


def prepare_prompts(cfg: RunConfig, tokenizer) -> Store:
    """The config's prompts validated and tokenized once into the prepared store (rank 0), or found there."""
    return prepare(cfg.data, prompt_recipe(cfg), tokenizer, cfg.data.prepared_dir, cfg.data.num_proc)


def prompt_tokenizer(cfg: RunConfig):
    return data_tokenizer(cfg, load_prompt_rows)


# --- the loop ----------------------------------------------------------------------------------------------


class RLVRModule(PostTrainingModule):
    """rollout → reward → advantage → K epochs of clipped updates. Subclasses provide `score_rollout` (extra
    no-grad passes and the advantages) and `minibatch_loss`."""

    def __init__(self, cfg: RunConfig, model, tokenizer, rollout: RolloutBackend | None = None):
        super().__init__(cfg.optim, cfg.trainer)
        self.cfg = cfg
        self.model = model
        self.tokenizer = tokenizer
        disable_dropout(self.model)
        # β = 0: no KL term, so no reference model (its memory and its forward are saved, as in TRL)
        self.ref_model = frozen_copy(model) if cfg.rlvr.beta > 0 else None
        if rollout is None and cfg.rlvr.backend == "hf":
            rollout = HFRollout(model, tokenizer, batch_size=cfg.rlvr.generation_batch_size)
        self.rollout = rollout  # vllm: built in `on_fit_start`, on this rank's GPU
        self.shuffle = torch.Generator().manual_seed(cfg.trainer.seed)
        self.overlap: OneStepAhead | None = None  # async_mode: built in `on_fit_start`
        self._restored_in_flight: dict | None = None

    def sharded_modules(self) -> list[torch.nn.Module]:
        return [*self.trainable_modules(), *([self.ref_model] if self.ref_model is not None else [])]

    def total_optimizer_steps(self) -> int:
        if self.trainer.max_steps > 0:
            return self.trainer.max_steps
        per_batch = self.cfg.rlvr.update_epochs * self.cfg.rlvr.num_minibatches
        return max(1, self.trainer.datamodule.steps_per_epoch() * self.trainer.max_epochs * per_batch)

    def on_fit_start(self) -> None:
        if self.rollout is None:
            from tulu_lightning.rollout_vllm import VLLMRollout

            r = self.cfg.rlvr
            self.rollout = VLLMRollout(
                self.cfg.model.name_or_path,
                self.tokenizer,
                r.vllm_gpu_memory_utilization,
                self.cfg.trainer.seed,
            )
        if self.cfg.rlvr.async_mode:
            self.overlap = OneStepAhead(self)
            self.overlap.restored, self._restored_in_flight = self._restored_in_flight, None
            self.overlap.start()

    def on_fit_end(self) -> None:
        if self.overlap is not None:
            self.overlap.close()
            self.overlap = None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["minibatch_shuffle_state"] = self.shuffle.get_state()
        if self.overlap is not None:  # the batch in flight, waited for: the resumed run trains on it first
            checkpoint["rollout_in_flight"] = self.overlap.state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        if "minibatch_shuffle_state" in checkpoint:
            self.shuffle.set_state(checkpoint["minibatch_shuffle_state"])
        self._restored_in_flight = checkpoint.get("rollout_in_flight")

    def on_train_start(self) -> None:
        super().on_train_start()
        # resumed (the checkpoint is restored after `on_fit_start`): the vLLM engine loaded the starting weights
        if hasattr(self.rollout, "push_weights") and self.global_step > 0 and self.overlap is None:
            self.rollout.push_weights(self.model)
        if self.cfg.eval.enabled and self.cfg.rlvr.eval_at_start and self.global_step == 0:
            rows = self.trainer.datamodule.val_rows
            accuracy = generation_accuracy(self.model, self.tokenizer, rows, self.cfg.eval).accuracy
            if self.logger is not None and self.trainer.is_global_zero:
                self.logger.log_metrics({"val/accuracy": accuracy}, step=0)

    # --- rollout and reward ---

    @torch.no_grad()
    def local_logprobs(self, model: torch.nn.Module, batch: dict) -> torch.Tensor:
        """Per-token log-probs [N, L] of every response under `model` (async_mode's behaviour copy) at the sampling
        temperature, in chunks of `forward_batch_size`, with no collective (the copy is not sharded)."""
        rlvr = self.cfg.rlvr
        tensors = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
        logprobs = torch.zeros_like(batch["response_mask"])
        for start in range(0, len(logprobs), rlvr.forward_batch_size):
            part = slice(start, start + rlvr.forward_batch_size)
            chunk = {k: v[part] for k, v in tensors.items()}
            logprobs[part] = token_logprobs(
                response_logits(model, chunk), chunk["responses"], rlvr.temperature
            )
        return logprobs * batch["response_mask"]

    def generate(self, prompts: list[dict], rollout: RolloutBackend | None = None) -> dict:
        """Sample responses (with `rollout`, default the policy's), verify them, and lay the batch out as tensors
        (see the module docstring)."""
        r = self.cfg.rlvr
        params = SamplingParams(
            n=r.samples_per_prompt,
            temperature=r.temperature,
            top_p=r.top_p,
            max_tokens=r.max_new_tokens,
            stop_token_ids=list(r.stop_token_ids),
        )
        rollout = rollout if rollout is not None else self.rollout
        completions = rollout.generate([p["prompt_ids"] for p in prompts], params)
        rows = [prompts[c.prompt_index] for c in completions]
        verify_started = time.perf_counter()
        verdicts = verify_batch(
            [row["verifier"] for row in rows],
            [c.text for c in completions],
            [row["ground_truth"] for row in rows],
        )
        reward_seconds = time.perf_counter() - verify_started
        for row, verdict in zip(rows, verdicts):
            if verdict.status == "error":  # ground truths parse at load: this is the verifier's own failure
                rank_zero_warn(f"{row['where']}: response not verified, reward 0 ({verdict.error})")
        batch = self.layout([row["prompt_ids"] for row in rows], [c.token_ids for c in completions])
        batch["correct"] = torch.tensor([v.score for v in verdicts], device=self.device)
        batch["stopped"] = torch.tensor([c.finish_reason == "stop" for c in completions], device=self.device)
        batch["scores"] = sequence_scores(
            batch["correct"],
            batch["stopped"],
            r.verifiable_reward,
            r.non_eos_reward if r.non_eos_penalty else None,
        )
        batch["verifiers"] = [row["verifier"] for row in rows]
        batch["sampler_logprobs"] = [c.logprobs for c in completions]
        batch["reward_seconds"] = reward_seconds
        return batch

    def layout(self, prompts: list[list[int]], responses: list[list[int]]) -> dict:
        pad = self.tokenizer.pad_token_id
        width, length = max(map(len, prompts)), max(1, max(map(len, responses)))
        input_ids = torch.full((len(prompts), width + length), pad, dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for row, (prompt, response) in enumerate(zip(prompts, responses)):
            input_ids[row, width - len(prompt) : width + len(response)] = torch.tensor(prompt + response)
            attention_mask[row, width - len(prompt) : width + len(response)] = 1
        response_mask = attention_mask[:, width:].float()
        return {
            "input_ids": input_ids.to(self.device),
            "attention_mask": attention_mask.to(self.device),
            "responses": input_ids[:, width:].to(self.device),
            "response_mask": response_mask.to(self.device),
            "trained": torch.ones(len(prompts), dtype=torch.bool, device=self.device),  # unless dropped
        }

    # --- no-grad scoring passes ---

    @torch.no_grad()
    def logprobs_of(self, model, batch: dict) -> torch.Tensor:
        """Per-token log-probs of the responses under `model` at the sampling temperature, in chunks: [N, L], for
        the rows `trained` (the others are left 0)."""
        logprobs = torch.zeros_like(batch["response_mask"])
        for part, chunk in self.chunks(batch, *self.trained_rows(batch)):
            logits = response_logits(model, chunk)
            logprobs[part] = token_logprobs(logits, chunk["responses"], self.cfg.rlvr.temperature)
        return logprobs * batch["response_mask"]

    @staticmethod
    def trained_rows(batch: dict, rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(the rows `trained`, the rows dropped) among `rows` (default: all), in their order."""
        rows = torch.arange(len(batch["trained"]), device=batch["trained"].device) if rows is None else rows
        trained = batch["trained"][rows]
        return rows[trained], rows[~trained]

    def chunks(self, batch: dict, rows: torch.Tensor, spare: torch.Tensor):
        """(indices, the batch's tensors at those rows) per `forward_batch_size` rows of `rows`.

        Every rank runs as many chunks: FSDP2 gathers each layer's weights in every forward, collectively, and the
        rows a rank leaves out (GRPO's dropped groups) differ from rank to rank. A rank short of chunks tops its
        rows up from `spare` (dropped rows: loss mask 0, results unused); it always has enough, since all ranks
        draw `rows` + `spare` of one size."""
        size = self.cfg.rlvr.forward_batch_size
        if self.world_size() > 1:
            have = -(-len(rows) // size)
            needed = int(self.global_max(have))
            if have < needed:
                rows = torch.cat([rows, spare[: (needed - 1) * size + 1 - len(rows)]])
        tensors = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
        for start in range(0, len(rows), size):
            part = rows[start : start + size]
            yield part, {k: v[part] for k, v in tensors.items()}

    def world_size(self) -> int:
        return self.trainer.world_size if self._trainer is not None else 1

    def global_max(self, value: float) -> float:
        tensor = torch.tensor(float(value), dtype=torch.float64, device=self.device)
        return float(self.trainer.strategy.reduce(tensor, reduce_op="max"))

    def reference_logprobs(self, batch: dict) -> None:
        """`ref_logprobs` of the rows `trained`, when there is a reference (β > 0)."""
        if self.ref_model is not None:
            batch["ref_logprobs"] = self.logprobs_of(self.ref_model, batch)

    def score_rollout(self, batch: dict) -> None:
        """Fill `advantages`, `loss_mask`, `old_logprobs` (unless the update's own forward gives them: see the
        module docstring), `ref_logprobs` when β > 0 (and any algorithm extras); rows the algorithm drops are
        marked False in `trained`."""
        raise NotImplementedError

    def minibatch_loss(self, chunk: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(sum over the chunk's `loss_mask` tokens of the per-token loss, summed per-token statistics). What the
        chunk lacked and this forward gives (one pass: `old_logprobs`, ...) it adds to the chunk."""
        raise NotImplementedError

    def policy_forward(self, chunk: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """The policy's response logits and its log-probs of the responses at the sampling temperature."""
        logits = response_logits(self.model, chunk)
        return logits, token_logprobs(logits, chunk["responses"], self.cfg.rlvr.temperature)

    def policy_terms(
        self, chunk: dict, forward: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """(per-token clipped policy loss, new log-probs, token sums of clip/ratio/entropy), from `forward`
        (`policy_forward`'s) or a forward of its own. Without `old_logprobs` in the chunk, this forward is the old
        policy's (one epoch of one minibatch): its detached log-probs are added to the chunk as such."""
        r = self.cfg.rlvr
        logits, logprobs = self.policy_forward(chunk) if forward is None else forward
        if "old_logprobs" not in chunk:
            chunk["old_logprobs"] = logprobs.detach() * chunk["response_mask"]
        loss, clipped, ratio = clipped_policy_loss(
            logprobs, chunk["old_logprobs"], chunk["advantages"], r.clip_low, r.clip_high
        )
        mask = chunk["loss_mask"]
        with torch.no_grad():
            stats = {
                "clip_frac": (clipped.float() * mask).sum(),
                "ratio_max_dev": ((ratio - 1).abs() * mask).max(),
                "entropy": (entropy(logits.detach(), r.temperature) * mask).sum(),
            }
        return loss, logprobs, stats

    # --- one rollout batch ---

    def training_step(self, micro_batches: list[dict], batch_idx: int) -> None:
        prompts = [p for mb in micro_batches for p in mb["prompts"]]
        started = time.perf_counter()
        # async_mode: the batch sampled one update ago (and the next one starts now)
        batch = self.overlap.next_batch(prompts) if self.overlap is not None else self.generate(prompts)
        generated = time.perf_counter()
        self.score_rollout(batch)
        update_stats = self.update(batch)
        if hasattr(self.rollout, "push_weights") and self.overlap is None:
            self.rollout.push_weights(self.model)
        finished = time.perf_counter()
        self.log_metrics(
            {
                **self.rollout_metrics(batch),
                **update_stats,
                "rollout_seconds": generated - started,
                "reward_seconds": batch["reward_seconds"],
                "update_seconds": finished - generated,
                "samples_per_sec": self.global_sum(len(batch["scores"])) / (finished - started),
            }
        )

    def update(self, batch: dict) -> dict[str, float]:
        """K epochs over shuffled minibatches; the loss of each is normalised by its number of loss tokens on all
        ranks (token-level normalisation), and its chunks are backpropagated before one optimizer step.

        Minibatches are drawn over every row, then the rows the algorithm dropped are left out: the same
        minibatches, token counts and shuffle as if they were kept (their loss mask is 0). A minibatch with no
        loss token on any rank still counts as an optimizer step (it has no gradient, so AdamW changes nothing)."""
        r = self.cfg.rlvr
        total = len(batch["scores"])
        tensors = dict(batch)  # what scoring gave; a one-pass forward's additions go to `batch` (metrics)
        totals: dict[str, float] = defaultdict(float)
        optimizer_steps = learning_steps = first_ratio_dev = 0
        for _ in range(r.update_epochs):
            order = torch.randperm(total, generator=self.shuffle).to(self.device)
            for indices in order.chunk(r.num_minibatches):
                tokens = self.global_sum(batch["loss_mask"][indices].sum())
                if tokens > 0:
                    learning_steps += 1
                    for part, chunk in self.chunks(tensors, *self.trained_rows(batch, indices)):
                        loss_sum, stats = self.minibatch_loss(chunk)
                        self.backward_scaled(loss_sum / tokens)
                        for key in chunk.keys() - tensors.keys():  # added by this forward (one pass)
                            value = chunk[key]
                            batch.setdefault(key, value.new_zeros((total, *value.shape[1:])))[part] = value
                        totals["loss"] += float(loss_sum.detach()) / float(tokens)
                        if optimizer_steps == 0:
                            first_ratio_dev = max(first_ratio_dev, float(stats["ratio_max_dev"]))
                        for name, value in stats.items():
                            if name != "ratio_max_dev":
                                totals[name] += float(value) / float(tokens)
                step = self.step_optimizer()
                optimizer_steps += 1
        out = {name: value / max(1, learning_steps) for name, value in totals.items()}
        out.update(step)  # grad norm and LR of the last optimizer step
        out.update(optimizer_steps=optimizer_steps, first_step_ratio_max_dev=first_ratio_dev)
        return out

    def rollout_metrics(self, batch: dict) -> dict[str, float]:
        mask = batch["response_mask"]
        metrics = {
            "correct_frac": float(batch["correct"].mean()),
            "score": float(batch["scores"].mean()),
            "response_length": float(mask.sum(1).mean()),
            "stop_frac": float(batch["stopped"].float().mean()),
        }
        trained = batch["trained"]
        if (
            "ref_logprobs" in batch and "old_logprobs" in batch and trained.any()
        ):  # Σ_t (log π − log π_ref): k1 per trained sequence
            kl = ((batch["old_logprobs"] - batch["ref_logprobs"]) * mask).sum(1)
            metrics["kl"] = float(kl[trained].mean())
        by_verifier: dict[str, list[float]] = defaultdict(list)
        for verifier, correct in zip(batch["verifiers"], batch["correct"].tolist()):
            by_verifier[verifier].append(correct)
        for verifier, values in by_verifier.items():
            metrics[f"reward/{verifier}"] = sum(values) / len(values)
        return metrics

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        """Nothing per batch: held-out accuracy is the generation callback's (eval.enabled)."""
