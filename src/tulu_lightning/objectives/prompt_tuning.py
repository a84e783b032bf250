"""Continuous prompt tuning with the Prompt Waywardness regulariser (Khashabi et al., NAACL 2022).

model: a frozen causal LM; a trainable table of L prompt vectors takes the place of BOS in front of the input
       embeddings (right padding; the prompt positions carry no label)
data:  classification rows -> "{text} It was {label} ." -> prefix tokens + the verbalizer tokens (the output)
loss:  mean over examples of the per-example mean NLL of the output tokens
       + γ · (1/L) · Σᵢ ‖pᵢ − E[wᵢ]‖²   (w: the target text's L tokens, E: the frozen input embeddings)
       The paper's released code drops γ before training; here it is applied (tests check its gradient).
eval:  each label's verbalizer scored after the prompt and the prefix; the lowest mean NLL is the prediction.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from tulu_lightning.chat import IGNORE_INDEX
from tulu_lightning.config import ConfigError, RunConfig, check_range
from tulu_lightning.data import DataError, read_rows, split_validation
from tulu_lightning.models import load_causal_lm, load_tokenizer
from tulu_lightning.objectives.base import PostTrainingModule, StepDataModule
from tulu_lightning.projection import METRICS, project, projected_text, projection_f1

INITS = ("target", "vocab", "random")


@dataclass
class TaskConfig:
    """A classification task as a template and one verbalizer per label (label i -> verbalizers[i])."""

    template: str = "{text} It was {label} ."  # the text after {label} is not scored
    verbalizers: list[str] = field(default_factory=lambda: ["terrible", "great"])  # the word for each label
    text_field: str = "text"  # column of the input text
    label_field: str = "label"  # an index into verbalizers, or the verbalizer itself


@dataclass
class PromptTuningSection:
    task: TaskConfig = field(default_factory=TaskConfig)
    target_text: str | None = None  # the text the prompt is pulled toward (its token count sets L)
    prompt_length: int | None = None  # L when there is no target text (γ must then be 0)
    init: str = "vocab"  # target (the target text's embeddings) | vocab (random tokens' embeddings) | random
    gamma: float = 0.0  # weight of the waywardness term
    metric: str = "euclidean"  # nearest-token projection logged during validation: euclidean | cosine | dot
    max_val_samples: int | None = None  # only the first N validation rows; None: all


@dataclass
class PromptTuningConfig(RunConfig):
    objective: str = "prompt_tuning"
    prompt_tuning: PromptTuningSection = field(default_factory=PromptTuningSection)


def validate(cfg: PromptTuningConfig) -> None:
    pt = cfg.prompt_tuning
    if pt.init not in INITS:
        raise ConfigError(f"prompt_tuning.init: expected one of {INITS}, got {pt.init!r}")
    if pt.metric not in METRICS:
        raise ConfigError(f"prompt_tuning.metric: expected one of {METRICS}, got {pt.metric!r}")
    check_range("prompt_tuning.gamma", pt.gamma, ge=0)
    check_range("prompt_tuning.prompt_length", pt.prompt_length, ge=1, optional=True)
    check_range("prompt_tuning.max_val_samples", pt.max_val_samples, ge=1, optional=True)
    if not pt.target_text and (pt.gamma > 0 or pt.init == "target"):
        raise ConfigError("prompt_tuning.target_text: required when gamma > 0 or init is 'target'")
    if not pt.target_text and not pt.prompt_length:
        raise ConfigError("prompt_tuning: set target_text or prompt_length")
    if pt.task.template.count("{text}") != 1 or pt.task.template.count("{label}") != 1:
        raise ConfigError("prompt_tuning.task.template: needs exactly one {text} and one {label}")
    if pt.task.template.index("{label}") < pt.task.template.index("{text}"):
        raise ConfigError("prompt_tuning.task.template: {label} must come after {text}")
    if len(pt.task.verbalizers) < 2:
        raise ConfigError("prompt_tuning.task.verbalizers: need at least two labels")
    if cfg.trainer.strategy == "fsdp2":
        raise ConfigError("trainer.strategy: prompt tuning runs on one device or with ddp (the LM is frozen)")


# --- losses --------------------------------------------------------------------------------------------


def per_example_mean_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """[B] mean over each example's output tokens of −log p(token) (IGNORE_INDEX targets excluded), float32."""
    nll = F.cross_entropy(
        logits.float().transpose(1, 2), targets, ignore_index=IGNORE_INDEX, reduction="none"
    )
    counts = (targets != IGNORE_INDEX).sum(dim=1).clamp(min=1)
    return nll.sum(dim=1) / counts


def waywardness_penalty(prompt: torch.Tensor, target_embeddings: torch.Tensor) -> torch.Tensor:
    """(1/L) · Σᵢ ‖pᵢ − E[wᵢ]‖²: mean squared Euclidean distance of the prompt to the target text's embeddings."""
    return (prompt - target_embeddings).pow(2).sum(dim=-1).mean()


def waywardness_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    prompt: torch.Tensor,
    target_embeddings: torch.Tensor | None,
    gamma: float,
) -> torch.Tensor:
    """Khashabi et al. (2022), eq. 1: mean over examples of the task NLL + γ · waywardness_penalty."""
    loss = per_example_mean_nll(logits, targets).mean()
    if gamma > 0:
        loss = loss + gamma * waywardness_penalty(prompt, target_embeddings)
    return loss


# --- the soft prompt -------------------------------------------------------------------------------------


def initial_prompt(
    embeddings: torch.Tensor, init: str, length: int, target_ids: list[int] | None, seed: int
) -> torch.Tensor:
    """[L, d] starting prompt: the target text's embeddings, those of L random vocabulary tokens, or Gaussian
    noise with the embedding matrix's standard deviation."""
    generator = torch.Generator().manual_seed(seed)
    embeddings = embeddings.detach().float().cpu()
    if init == "target":
        return embeddings[torch.tensor(target_ids)].clone()
    if init == "vocab":
        return embeddings[torch.randint(len(embeddings), (length,), generator=generator)].clone()
    return torch.randn(length, embeddings.shape[1], generator=generator) * embeddings.std()


class SoftPrompt(torch.nn.Module):
    def __init__(self, prompt: torch.Tensor):
        super().__init__()
        self.weight = torch.nn.Parameter(prompt.clone())

    def forward(self, batch_size: int) -> torch.Tensor:
        return self.weight.unsqueeze(0).expand(batch_size, -1, -1)


def prompted_logits(
    model, soft_prompt: SoftPrompt, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """Logits over [prompt; input] for right-padded inputs (positions count from the first prompt vector)."""
    embeds = model.get_input_embeddings()(input_ids)
    prompt = soft_prompt(len(input_ids)).to(embeds.dtype)
    prompt_mask = attention_mask.new_ones(len(input_ids), prompt.shape[1])
    return model(
        inputs_embeds=torch.cat([prompt, embeds], dim=1),
        attention_mask=torch.cat([prompt_mask, attention_mask], dim=1),
    ).logits


# --- data --------------------------------------------------------------------------------------------------


def read_table(path: str | Path) -> list[dict]:
    """Rows of a local TSV/CSV (header line) or JSONL/Parquet file."""
    path = Path(path)
    if path.suffix not in (".tsv", ".csv"):
        return read_rows(path)
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ",")
        rows = []
        for row in reader:
            if None in row or None in row.values():
                raise DataError(f"{path}:{reader.line_num}: expected {len(reader.fieldnames or [])} columns")
            rows.append(row)
        return rows


def load_task_rows(cfg: RunConfig, split: str) -> list[dict]:
    """The `train` or `val` rows from local TSV/CSV/JSONL files, else `data.hub_dataset` (train only)."""
    files = cfg.data.train_files if split == "train" else cfg.data.val_files
    if files:
        rows = [row for path in files for row in read_table(path)]
    elif split == "train" and cfg.data.hub_dataset:
        import datasets

        rows = datasets.load_dataset(cfg.data.hub_dataset, split=cfg.data.hub_split).to_list()
    elif split == "train":
        raise ConfigError("data: set data.train_files or data.hub_dataset")
    else:
        rows = []
    if split == "train" and cfg.data.max_train_samples:
        rows = rows[: cfg.data.max_train_samples]
    return rows


def label_index(row: dict, task: TaskConfig, where: str) -> int:
    """The row's label as an index into the verbalizers (an int, a digit string, or the verbalizer)."""
    if task.text_field not in row or task.label_field not in row:
        raise DataError(
            f"{where}: needs fields {task.text_field!r} and {task.label_field!r} (has {sorted(row)})"
        )
    value = row[task.label_field]
    if isinstance(value, str) and value.strip() in task.verbalizers:
        return task.verbalizers.index(value.strip())
    try:
        index = int(value)
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < len(task.verbalizers):
        raise DataError(
            f"{where}: label {value!r} is neither an index < {len(task.verbalizers)} nor a verbalizer"
        )
    return index


def prefix_and_choices(task: TaskConfig, text: str) -> tuple[str, list[str]]:
    """The text before the label and each label's continuation ("... It was", [" terrible", " great"])."""
    prefix = task.template.split("{label}")[0].replace("{text}", text)
    space = ""
    if prefix.endswith(" "):
        prefix, space = prefix[:-1], " "  # the space belongs to the verbalizer's first token (BPE)
    return prefix, [space + verbalizer for verbalizer in task.verbalizers]


def encode(tokenizer, prefix: str, continuation: str) -> dict:
    """Token ids of prefix + continuation; only the continuation is labelled (no BOS: the prompt replaces it)."""
    prefix_ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    output_ids = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    return {"input_ids": prefix_ids + output_ids, "labels": [IGNORE_INDEX] * len(prefix_ids) + output_ids}


def collate_right_padded(examples: list[dict], pad_token_id: int) -> dict:
    """Right-padded ids, attention mask and next-token targets (targets[t] = labels[t + 1])."""
    width = max(len(e["input_ids"]) for e in examples)
    input_ids, mask, targets = [], [], []
    for e in examples:
        pad = width - len(e["input_ids"])
        input_ids.append(e["input_ids"] + [pad_token_id] * pad)
        mask.append([1] * len(e["input_ids"]) + [0] * pad)
        targets.append(e["labels"][1:] + [IGNORE_INDEX] * (pad + 1))
    return {
        "input_ids": torch.tensor(input_ids),
        "attention_mask": torch.tensor(mask),
        "targets": torch.tensor(targets),
    }


class PromptTuningDataModule(StepDataModule):
    """Training items: one labelled example each. Validation items: every label's continuation of a row."""

    def __init__(self, cfg: PromptTuningConfig, tokenizer, train_rows: list[dict], val_rows: list[dict]):
        super().__init__(cfg.trainer, cfg.data.num_workers, cfg.data.shuffle_seed)
        self.cfg, self.tokenizer = cfg, tokenizer
        self.train_rows, self.val_rows = train_rows, val_rows

    def setup(self, stage: str | None = None) -> None:
        if self.train_items:
            return
        task = self.cfg.prompt_tuning.task
        for index, row in enumerate(self.train_rows):
            prefix, choices = prefix_and_choices(task, str(row[task.text_field]))
            label = label_index(row, task, f"training data row {index}")
            self.train_items.append(encode(self.tokenizer, prefix, choices[label]))
        self.val_items = [
            choice_item(self.tokenizer, task, row, f"validation data row {index}")
            for index, row in enumerate(self.val_rows)
        ]

    def collate(self, rows: list[dict]) -> dict:
        if "choices" in rows[0]:
            return collate_choices(rows, self.tokenizer.pad_token_id)
        batch = collate_right_padded(rows, self.tokenizer.pad_token_id)
        batch["num_examples"] = len(rows)
        return batch


def choice_item(tokenizer, task: TaskConfig, row: dict, where: str) -> dict:
    prefix, choices = prefix_and_choices(task, str(row[task.text_field]))
    label = label_index(row, task, where)
    return {"choices": [encode(tokenizer, prefix, choice) for choice in choices], "label": label}


def collate_choices(items: list[dict], pad_token_id: int) -> dict:
    """Every (row, label) pair as one sequence, rows major; `labels` holds each row's gold index."""
    batch = collate_right_padded([c for item in items for c in item["choices"]], pad_token_id)
    batch["num_choices"] = len(items[0]["choices"])
    batch["labels"] = torch.tensor([item["label"] for item in items])
    return batch


# --- the module ------------------------------------------------------------------------------------------


class PromptTuningModule(PostTrainingModule):
    def __init__(self, cfg: PromptTuningConfig, model, tokenizer):
        super().__init__(cfg.optim, cfg.trainer)
        self.cfg = cfg
        self.model = model.requires_grad_(False).eval()
        self.tokenizer = tokenizer
        self.strict_loading = False  # checkpoints hold the prompt only, not the frozen LM
        pt = cfg.prompt_tuning
        embeddings = model.get_input_embeddings().weight
        self.target_ids = (
            tokenizer(pt.target_text, add_special_tokens=False)["input_ids"] if pt.target_text else None
        )
        length = len(self.target_ids) if self.target_ids else pt.prompt_length
        self.prompt = SoftPrompt(
            initial_prompt(embeddings, pt.init, length, self.target_ids, cfg.trainer.seed)
        )
        target = embeddings.detach()[torch.tensor(self.target_ids)].clone() if self.target_ids else None
        self.register_buffer("target_embeddings", target, persistent=False)
        self._val_correct = self._val_count = 0

    def trainable_modules(self) -> list[torch.nn.Module]:
        return [self.prompt]

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.eval()  # frozen: no dropout either
        return self

    def example_nll(self, batch: dict) -> torch.Tensor:
        logits = prompted_logits(self.model, self.prompt, batch["input_ids"], batch["attention_mask"])
        ignore = batch["targets"].new_full((len(logits), self.prompt.weight.shape[0]), IGNORE_INDEX)
        return per_example_mean_nll(logits, torch.cat([ignore, batch["targets"]], dim=1))

    def penalty(self) -> torch.Tensor:
        if self.target_embeddings is None:
            return torch.zeros((), device=self.device)
        return waywardness_penalty(self.prompt.weight, self.target_embeddings)

    def training_step(self, micro_batches: list[dict], batch_idx: int) -> None:
        self.start_step_timer()
        gamma = self.cfg.prompt_tuning.gamma
        denominator = self.global_sum(sum(mb["num_examples"] for mb in micro_batches))
        nll_total = torch.zeros((), device=self.device)
        for index, batch in enumerate(micro_batches):
            nll = self.example_nll(batch).sum()
            loss = nll / denominator
            if index == 0 and gamma > 0:
                # once per step; each rank adds 1/world_size of it and DDP averages: exactly γ·penalty overall
                loss = loss + gamma * self.penalty() / self.trainer.world_size
            self.backward_scaled(loss)
            nll_total += nll.detach()
        stats = self.step_optimizer()
        task_nll = self.global_sum(nll_total) / denominator
        penalty = self.penalty().detach()
        self.log_metrics(
            {"loss": task_nll + gamma * penalty, "task_nll": task_nll, "penalty": penalty, **stats}
        )

    def on_validation_epoch_start(self) -> None:
        self._val_correct = self._val_count = 0

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        predictions = self.predict(batch)
        self._val_correct += int((predictions == batch["labels"]).sum())
        self._val_count += len(predictions)

    @torch.no_grad()
    def predict(self, batch: dict) -> torch.Tensor:
        """The label whose verbalizer has the lowest mean NLL, per row."""
        scores = self.example_nll(batch).view(-1, batch["num_choices"])
        return scores.argmin(dim=1)

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        if not self._val_count:
            return
        metrics = {"val/accuracy": self._val_correct / self._val_count, "val/penalty": float(self.penalty())}
        if self.target_ids:
            ids = project(
                self.prompt.weight, self.model.get_input_embeddings().weight, self.cfg.prompt_tuning.metric
            )
            metrics["val/f1"] = projection_f1(
                projected_text(self.tokenizer, ids), self.cfg.prompt_tuning.target_text
            )
        self.log_dict(metrics, rank_zero_only=True)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["state_dict"] = {
            k: v for k, v in checkpoint["state_dict"].items() if k.startswith("prompt.")
        }


def build(cfg: PromptTuningConfig):
    """Rows -> tokenizer -> frozen model -> (PromptTuningModule, PromptTuningDataModule)."""
    train_rows = load_task_rows(cfg, "train")
    val_rows = load_task_rows(cfg, "val")
    if not val_rows:
        train_rows, val_rows = split_validation(train_rows, cfg.data.val_fraction, cfg.data.shuffle_seed)
    if cfg.prompt_tuning.max_val_samples:
        val_rows = val_rows[: cfg.prompt_tuning.max_val_samples]
    task = cfg.prompt_tuning.task
    texts = [str(row.get(task.text_field, "")) for row in train_rows]
    tokenizer = load_tokenizer(
        cfg.model, texts=[*texts, *task.verbalizers, cfg.prompt_tuning.target_text or ""]
    )
    model = load_causal_lm(cfg.model, tokenizer, seed=cfg.trainer.seed)
    return PromptTuningModule(cfg, model, tokenizer), PromptTuningDataModule(
        cfg, tokenizer, train_rows, val_rows
    )
