"""Bradley–Terry reward model (Tülu 3's reward model, the PPO value model's initialisation).

data   preference pairs through the SFT chat template, prepared once (`preference.py`, `prepared.py`)
model  a causal LM's backbone with a scalar head (`AutoModelForSequenceClassification`, one label); the reward
       r(x, y) is the head's output at the last token of the conversation (its EOS): pairs longer than
       `max_seq_length` are dropped, never cut (as open-instruct's PreferenceDatasetProcessor.filter means to)
loss   −log σ(r(x, y_c) − r(x, y_r)) (Bradley & Terry 1952; Ouyang et al. 2022), averaged over every pair of the
       optimizer step (all micro-batches, all ranks); accuracy = fraction of pairs with r_c > r_r
export a Hugging Face sequence-classification directory: `ppo.value_model` / `ppo.reward_model` load it
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tulu_lightning.config import ConfigError, RunConfig
from tulu_lightning.models import disable_dropout, load_causal_lm
from tulu_lightning.objectives.base import data_tokenizer
from tulu_lightning.objectives.preference import (
    PairwiseModule,
    PreferenceDataModule,
    load_pairs,
    pairs_recipe,
    prepare_pairs,
)
from tulu_lightning.prepared import Recipe, Store


@dataclass
class RewardModelConfig(RunConfig):
    objective: str = "reward_model"


def validate(cfg: RewardModelConfig) -> None:
    if cfg.data.keep_truncated:
        raise ConfigError(
            "data.keep_truncated: a reward model would read the score of a cut sequence at a token that is not "
            "its end; over-long pairs are dropped"
        )


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """−log σ(r_c − r_r) per pair."""
    return -F.logsigmoid(chosen - rejected)


def sequence_rewards(model, batch: dict) -> torch.Tensor:
    """The scalar head at each right-padded row's last real token: [rows], float32."""
    backbone = getattr(model, model.base_model_prefix)
    hidden = backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    last = batch["attention_mask"].sum(1) - 1
    return model.score(hidden[torch.arange(len(last), device=last.device), last]).squeeze(-1).float()


class RewardModelModule(PairwiseModule):
    def __init__(self, cfg: RewardModelConfig, model, tokenizer):
        super().__init__(cfg.optim, cfg.trainer)
        self.cfg = cfg
        self.model = model
        self.tokenizer = tokenizer
        disable_dropout(self.model)

    def pair_statistics(self, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Per-pair loss (with grad) and per-pair statistics summed over the batch (no grad)."""
        chosen, rejected = sequence_rewards(self.model, batch).chunk(2)
        loss = bradley_terry_loss(chosen, rejected)
        chosen, rejected = chosen.detach(), rejected.detach()
        stats = {
            "loss": loss.detach().sum(),
            "accuracy": (chosen > rejected).float().sum(),
            "rewards/chosen": chosen.sum(),
            "rewards/rejected": rejected.sum(),
            "rewards/margin": (chosen - rejected).sum(),
        }
        return loss, stats


load_data = load_pairs


def build_tokenizer(cfg: RewardModelConfig):
    return data_tokenizer(cfg, load_pairs)


def recipe(cfg: RewardModelConfig) -> Recipe:
    return pairs_recipe(cfg, last_turn_only=False)


def prepare_data(cfg: RewardModelConfig, tokenizer) -> Store:
    return prepare_pairs(cfg, tokenizer, last_turn_only=False)


def build(cfg: RewardModelConfig):
    """Tokenizer -> prepared pairs -> causal-LM backbone with a new scalar head -> module, data."""
    tokenizer = build_tokenizer(cfg)
    store = prepare_data(cfg, tokenizer)
    model = load_causal_lm(cfg.model, tokenizer, seed=cfg.trainer.seed, reward_head=True)
    return RewardModelModule(cfg, model, tokenizer), PreferenceDataModule(cfg, tokenizer, store)
