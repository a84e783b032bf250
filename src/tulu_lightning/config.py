"""Structured configs: dataclasses under OmegaConf, merged with a YAML file and `key=value` overrides.

Validation happens here, before any model loads: an unknown key, a wrong type, a missing required value or a
missing file fails at once with the key (and the YAML file) named.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from tulu_lightning.errors import ConfigError
from tulu_lightning.evaluation.sandbox import CodeExecutionConfig

T = TypeVar("T")


@dataclass
class TrackingConfig:
    uri: str = "sqlite:///mlflow.db"  # MLflow tracking URI; a server URL works too
    experiment: str = "tulu_lightning"  # MLflow experiment the run goes to (created when missing)
    run_name: str | None = None  # MLflow run name; None: objective · config name · time
    enabled: bool = True  # false: no MLflow run at all
    # the exported model as an MLflow logged model of the run, its files copied into the artifact store; false: the
    # logged model only points at the export (its path), nothing copied (what an 8B export wants)
    log_model: bool = True
    system_metrics: bool = True  # CPU, memory, GPU use sampled into the run (MLflow's system metrics, psutil)
    parent_run_id: str | None = None  # nest the run under this MLflow run (`recipe` sets it for its stages)


@dataclass
class TinyModelConfig:
    """A small Llama-shaped model built from scratch with a BPE tokenizer trained on the training data."""

    vocab_size: int = 512  # BPE vocabulary trained on the training texts (with the special tokens)
    hidden_size: int = 128  # width of the residual stream
    intermediate_size: int = 384  # width of the MLP
    num_hidden_layers: int = 4  # decoder layers
    num_attention_heads: int = 4  # query heads (divides hidden_size)
    num_key_value_heads: int = 4  # key/value heads (divides num_attention_heads; fewer is GQA)
    max_position_embeddings: int = 512  # longest sequence the RoPE tables cover


@dataclass
class ModelConfig:
    name_or_path: str | None = None  # hub name or local Hugging Face directory; None builds `tiny`
    tokenizer: str | None = None  # defaults to name_or_path
    tiny: TinyModelConfig | None = None
    dtype: str = (
        "float32"  # weights as loaded: float32 | bfloat16 (precision of compute is trainer.precision)
    )
    attn_implementation: str | None = None  # e.g. flash_attention_2 on GPU; None lets transformers choose
    gradient_checkpointing: bool = False  # activation checkpointing of every decoder layer
    chat_template: str | None = (
        None  # None: the tokenizer's own (the Tülu template if none); "tulu"; or Jinja
    )
    # BOS at the start of every sequence, written by the chat template (and so saved with the exported tokenizer):
    # None keeps what the tokenizer's template did (what the previous stage trained on); true/false set it
    add_bos: bool | None = None
    trust_remote_code: bool = False  # run the model repository's own Python code (transformers)


@dataclass
class DataConfig:
    train_files: list[str] = field(default_factory=list)  # local JSONL/Parquet paths
    val_files: list[str] = field(default_factory=list)  # local validation files; none: see val_fraction
    hub_dataset: str | None = None  # e.g. allenai/tulu-3-sft-mixture (used when train_files is empty)
    hub_split: str = "train"  # split of hub_dataset to train on
    # the store reads a hub dataset streamed (`datasets.load_dataset(..., streaming=True)`), row by row into its own
    # Arrow file, keyed by the hub commit it resolved to: nothing is downloaded whole into the HF cache first (the
    # store is the copy that is read). false: `load_dataset` downloads and caches it, keyed by its fingerprint
    hub_streaming: bool = True
    val_fraction: float = 0.0  # carve a validation split from train when no val_files
    max_train_samples: int | None = None  # only the first N training rows; None: all
    max_seq_length: int = 1024  # tokens per example (prompt and response together)
    # an example (SFT chat, preference pair) longer than max_seq_length is dropped; true: cut and kept (counted
    # either way, as the MLflow run tags data.over_long_*)
    keep_truncated: bool = False
    num_workers: int = 0  # DataLoader worker processes (0: load in the training process)
    shuffle_seed: int = 0  # seed of the data order and of the validation split carved by val_fraction
    # SFT chats, preference pairs and RLVR prompts are tokenized once into a store of Arrow files (prepared.py),
    # found by its key: where the stores live (None: $TULU_LIGHTNING_CACHE/prepared, else
    # ~/.cache/tulu_lightning/prepared)
    prepared_dir: str | None = None
    num_proc: int | None = None  # tokenizing processes (None: every core from 20,000 rows on)


@dataclass
class OptimConfig:
    lr: float = 1e-4  # peak learning rate (AdamW), reached after warmup
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # AdamW [beta1, beta2]
    eps: float = 1e-8  # AdamW epsilon
    warmup_ratio: float = 0.0  # fraction of the schedule spent warming up linearly from 0
    warmup_steps: int | None = None  # overrides warmup_ratio when set
    scheduler: str = "linear"  # linear | constant | cosine
    schedule_steps: int | None = None  # length of the LR schedule in optimizer steps; None: the run's length
    max_grad_norm: float | None = 1.0  # clip the global gradient norm to this; None: no clipping


@dataclass
class TrainerConfig:
    seed: int = 0  # seed of the model's initialisation, dropout and sampling
    output_dir: str = "outputs/run"  # the run's own directory: config, tokenizer, checkpoints, hf/
    # passes over the data; None: 1 without max_steps, else as many as max_steps needs (see `epoch_limit`)
    max_epochs: int | None = None
    max_steps: int = -1  # optimizer steps; -1: max_epochs alone (both set: the first reached ends the run)
    micro_batch_size: int = 8  # examples (or packed rows) per device per forward
    gradient_accumulation_steps: int = 1  # micro-batches per optimizer step (per device)
    precision: str = "32-true"  # e.g. bf16-mixed on GPU
    accelerator: str = "auto"  # Lightning accelerator: auto | cpu | gpu
    devices: Any = 1  # int, list of ids, or "auto"
    num_nodes: int = 1  # machines, each running trainer.devices processes
    strategy: str = "auto"  # auto | ddp | fsdp2 (Lightning's ModelParallelStrategy)
    log_every_n_steps: int = 10  # training metrics to MLflow every N optimizer steps
    val_check_interval: Any = 1.0  # fraction of an epoch, or a number of optimizer steps
    checkpoint_every_n_steps: int | None = None  # a checkpoint every N optimizer steps (all kept); None: none
    resume_from: str | None = None  # a Lightning checkpoint path, or "last" (the newest in output_dir)
    overwrite: bool = False  # replace an earlier run's outputs in output_dir (`fit --overwrite`)
    export: bool = True  # write a Hugging Face directory to <output_dir>/hf at the end


def epoch_limit(trainer: TrainerConfig) -> int:
    """Lightning's `max_epochs`: the configured one, else 1 without `max_steps` and no limit (-1) with it, so that
    `max_steps` alone sizes a run however many passes over the data that takes (Lightning's own default would
    be 1000 epochs without max_steps)."""
    if trainer.max_epochs is not None:
        return trainer.max_epochs
    return 1 if trainer.max_steps == -1 else -1


def _is_dataclass_type(value: Any) -> bool:
    return isinstance(value, type) and dataclasses.is_dataclass(value)


def load_yaml(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data


def merge_config(
    schema: type[T], data: dict, overrides: list[str] | None = None, source: str = "config"
) -> T:
    """Merge `data` (from `source`) and dotlist `overrides` into the dataclass `schema`; return the instance."""
    assert _is_dataclass_type(schema)
    try:
        cfg: DictConfig = OmegaConf.structured(schema)
        cfg = OmegaConf.merge(cfg, OmegaConf.create(data))
    except OmegaConfBaseException as err:
        raise ConfigError(_describe(err, source)) from None
    try:
        if overrides:
            bad = [item for item in overrides if "=" not in item]
            if bad:
                raise ConfigError(f"override {bad[0]!r} is not of the form key=value")
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
        missing = sorted(OmegaConf.missing_keys(cfg))
        if missing:
            raise ConfigError(f"{source}: required key {missing[0]!r} has no value")
        return OmegaConf.to_object(cfg)  # type: ignore[return-value]
    except OmegaConfBaseException as err:
        raise ConfigError(_describe(err, "command-line override")) from None


def _describe(err: OmegaConfBaseException, source: str) -> str:
    key = getattr(err, "full_key", None)
    message = str(err).splitlines()[0]
    if "Key '" in message and "not in" in message:
        return f"{source}: unknown key {key!r}" if key else f"{source}: {message}"
    return f"{source}: bad value for {key!r}: {message}" if key else f"{source}: {message}"


def to_yaml(cfg: Any) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


# What may differ between a finished job's config and its rerun's without invalidating it: where it is tracked.
UNTRACKED_CHANGES = ("tracking.", "trainer.resume_from", "trainer.overwrite", "output_dir")


def fingerprint(cfg: Any) -> dict[str, Any]:
    """What a job's outcome depends on: its resolved config, flattened, except where it is tracked."""
    return {k: v for k, v in flatten(cfg).items() if not k.startswith(UNTRACKED_CHANGES)}


def first_change(before: dict[str, Any], now: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """The first key (in sorted order) whose value differs between two fingerprints: (key, before, now)."""
    for key in sorted(before.keys() | now.keys()):
        if before.get(key) != now.get(key):
            return key, before.get(key), now.get(key)
    return None


def flatten(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted-key view of a config, for MLflow params."""
    container = OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)
    out: dict[str, Any] = {}

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{key}.{k}" if key else str(k))
        else:
            out[key] = node

    walk(container, prefix)
    return out


def check_range(
    key: str,
    value: float | None,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    optional: bool = False,
) -> None:
    """Fail early when the config value `key` is out of range (None passes only when `optional`)."""
    if value is None and optional:
        return
    bounds = [(gt, ">", lambda v, b: v > b), (ge, ">=", lambda v, b: v >= b)]
    bounds += [(lt, "<", lambda v, b: v < b), (le, "<=", lambda v, b: v <= b)]
    wanted = [f"{sign} {bound:g}" for bound, sign, _ in bounds if bound is not None]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # NaN fails
    ok = ok and all(test(value, bound) for bound, _, test in bounds if bound is not None)
    if not ok:
        raise ConfigError(f"{key}: must be {' and '.join(wanted)}, got {value}")


def validate_ranges(cfg: RunConfig) -> None:
    """The shared sections' values checked for range before anything is built."""
    o, t, d, e = cfg.optim, cfg.trainer, cfg.data, cfg.eval
    check_range("optim.lr", o.lr, gt=0)
    check_range("optim.weight_decay", o.weight_decay, ge=0)
    if len(o.betas) != 2:
        raise ConfigError(f"optim.betas: expected two values [beta1, beta2], got {o.betas}")
    for i, beta in enumerate(o.betas):
        check_range(f"optim.betas[{i}]", beta, ge=0, lt=1)
    check_range("optim.eps", o.eps, gt=0)
    check_range("optim.warmup_ratio", o.warmup_ratio, ge=0, le=1)
    check_range("optim.warmup_steps", o.warmup_steps, ge=0, optional=True)
    check_range("optim.max_grad_norm", o.max_grad_norm, gt=0, optional=True)
    if o.scheduler not in ("linear", "cosine", "constant"):
        raise ConfigError(f"optim.scheduler: expected linear, cosine or constant, got {o.scheduler!r}")
    if t.strategy not in ("auto", "ddp", "fsdp2"):
        raise ConfigError(f"trainer.strategy: expected auto, ddp or fsdp2, got {t.strategy!r}")
    for key in ("micro_batch_size", "gradient_accumulation_steps", "num_nodes", "log_every_n_steps"):
        check_range(f"trainer.{key}", getattr(t, key), ge=1)
    check_range("trainer.checkpoint_every_n_steps", t.checkpoint_every_n_steps, ge=1, optional=True)
    if t.max_steps != -1:
        check_range("trainer.max_steps", t.max_steps, ge=1)
    if t.max_epochs is not None and t.max_epochs != -1:
        check_range("trainer.max_epochs", t.max_epochs, ge=1)
    if t.max_epochs == -1 and t.max_steps == -1:
        raise ConfigError("trainer.max_steps: a run with trainer.max_epochs=-1 (no limit) needs max_steps")
    if isinstance(t.val_check_interval, float):  # a fraction of an epoch
        check_range("trainer.val_check_interval", t.val_check_interval, gt=0, le=1)
    elif isinstance(t.val_check_interval, int):  # a number of steps
        check_range("trainer.val_check_interval", t.val_check_interval, ge=1)
    check_range("data.val_fraction", d.val_fraction, ge=0, lt=1)
    check_range("data.max_train_samples", d.max_train_samples, ge=1, optional=True)
    check_range("data.num_proc", d.num_proc, ge=1, optional=True)
    check_range("data.max_seq_length", d.max_seq_length, ge=2)
    check_range("data.num_workers", d.num_workers, ge=0)
    for key in ("max_new_tokens", "max_prompts", "batch_size"):
        check_range(f"eval.{key}", getattr(e, key), ge=1)
    tiny = cfg.model.tiny
    if tiny is not None and cfg.model.name_or_path is None:
        for key, value in dataclasses.asdict(tiny).items():
            check_range(f"model.tiny.{key}", value, ge=1)
        if tiny.hidden_size % tiny.num_attention_heads:
            raise ConfigError(
                f"model.tiny.hidden_size: {tiny.hidden_size} is not a multiple of num_attention_heads "
                f"({tiny.num_attention_heads})"
            )
        if tiny.num_attention_heads % tiny.num_key_value_heads:
            raise ConfigError(
                f"model.tiny.num_key_value_heads: {tiny.num_key_value_heads} does not divide "
                f"num_attention_heads ({tiny.num_attention_heads})"
            )


def require_files(paths: dict[str, list[str] | str | None]) -> None:
    """Fail early when a configured local file is missing. `paths` maps dotted key -> path(s)."""
    for key, value in paths.items():
        for path in [value] if isinstance(value, str) else value or []:
            if not Path(path).exists():
                raise ConfigError(f"{key}: file not found: {path}")


def require_model_dir(key: str, name_or_path: str | None) -> None:
    """Fail early when a model named by a local path is missing (a hub name is `org/name`, checked on load)."""
    if name_or_path is None or Path(name_or_path).exists():
        return
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") != 1:
        raise ConfigError(f"{key}: model directory not found: {name_or_path}")


__all__ = [
    "MISSING",
    "ConfigError",
    "DataConfig",
    "GenerationEvalConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "SuiteEvalConfig",
    "TinyModelConfig",
    "TrackingConfig",
    "TrainerConfig",
    "check_range",
    "flatten",
    "load_yaml",
    "merge_config",
    "require_files",
    "require_model_dir",
    "to_yaml",
    "validate_ranges",
]


@dataclass
class GenerationEvalConfig:
    """Held-out accuracy: greedy-decode the validation prompts and score them with a verifier."""

    enabled: bool = False  # run it at each validation
    verifier: str = "gsm8k"  # a name from tulu_lightning.rewards
    max_new_tokens: int = 64  # longest greedy answer
    max_prompts: int = 200  # only the first N validation prompts
    batch_size: int = 64  # prompts per generate call


@dataclass
class SuiteEvalConfig:
    """Tülu 3's benchmark suites on the live model at validation time (lm-eval, the `eval` extra; see
    `tulu_lightning.evaluation.callback`). Settings as in `eval` (configs/eval/*.yaml)."""

    enabled: bool = False  # run the suites at validation (needs the `eval` extra)
    suites: list[str] = field(default_factory=lambda: ["tulu3_dev"])  # tulu3_dev and/or tulu3_unseen
    tasks: list[str] | None = None  # only these tasks (as reported: gsm8k, ifeval, ...)
    local_data: str | None = None  # local copies of the benchmark datasets
    limit: int | None = None  # at most this many questions per task
    max_gen_toks: int | None = None  # cap on every task's new tokens
    batch_size: int = 8  # lm-eval batch size
    every_n_validations: int = 1  # run the suites at every Nth validation only (they are slow)
    seed: int = 1234  # lm-eval's random, numpy and torch seeds (its default)
    code_execution: CodeExecutionConfig = field(default_factory=CodeExecutionConfig)


@dataclass
class RunConfig:
    """Sections every training objective has; each objective's config adds its own section."""

    objective: str = MISSING  # sft | dpo | reward_model | grpo | ppo | prompt_tuning
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    eval: GenerationEvalConfig = field(default_factory=GenerationEvalConfig)
    suite_eval: SuiteEvalConfig = field(default_factory=SuiteEvalConfig)
