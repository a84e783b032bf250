"""Export to a Hugging Face model directory (`save_pretrained` model + tokenizer), loadable by `transformers`
and so by vLLM. Works for plain and FSDP2-sharded models (the full state dict is gathered first)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tulu_lightning.files import atomic_path, check_outputs, prepare_output_dir


def full_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The unsharded state dict on CPU (a collective under FSDP2: every rank must call it)."""
    if any(isinstance(p, torch.distributed.tensor.DTensor) for p in model.parameters()):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def save_hf(model, tokenizer, out_dir: str | Path, is_global_zero: bool = True) -> Path:
    """Write `model` and `tokenizer` to `out_dir` in Hugging Face format."""
    out_dir = Path(out_dir)
    state = full_state_dict(model)
    if getattr(model.config, "tie_word_embeddings", False) and model.get_output_embeddings() is not None:
        state.pop(_output_embedding_key(model), None)  # gathered as its own tensor; it is the input embedding
    if is_global_zero:
        with atomic_path(out_dir) as temporary:  # a complete directory, or none
            model.save_pretrained(temporary, state_dict=state, safe_serialization=True)
            tokenizer.save_pretrained(temporary)
            _fix_architecture_name(temporary)
    return out_dir


def _output_embedding_key(model) -> str:
    output = model.get_output_embeddings()
    return next(name for name, module in model.named_modules() if module is output) + ".weight"


def _fix_architecture_name(out_dir: Path) -> None:
    # FSDP2 swaps the module's class for `FSDP<Name>`; vLLM picks its model class by `architectures`.
    config_path = out_dir / "config.json"
    config = json.loads(config_path.read_text())
    config["architectures"] = [name.removeprefix("FSDP") for name in config.get("architectures") or []]
    config_path.write_text(json.dumps(config, indent=2) + "\n")


def run(args) -> int:
    """Export a checkpoint with the config and tokenizer of its own run directory (`<run>/config.yaml`,
    `<run>/tokenizer`), so the weights always go out with the tokenizer they were trained with."""
    from tulu_lightning.errors import CLIError, ConfigError
    from tulu_lightning.models import load_causal_lm, load_tokenizer
    from tulu_lightning.train import (
        RUN_CONFIG,
        check_trained_config,
        config_inputs,
        load_run_config,
        run_dir_of,
        with_run_tokenizer,
    )

    checkpoint_path = Path(args.checkpoint)
    if not checkpoint_path.is_file():
        raise CLIError(f"--checkpoint {checkpoint_path}: not a checkpoint file")
    saved_config = run_dir_of(checkpoint_path) / RUN_CONFIG
    if args.config is None and not saved_config.is_file():
        raise CLIError(
            f"--checkpoint {checkpoint_path}: its run directory has no {RUN_CONFIG}; give --config"
        )
    cfg = load_run_config(args.config or str(saved_config), args.overrides)
    # a config given, or overrides, must agree with the one that trained
    check_trained_config(cfg, checkpoint_path, f"--checkpoint {checkpoint_path}")
    if cfg.objective == "prompt_tuning":
        raise CLIError(
            f"--checkpoint {checkpoint_path}: a prompt-tuning checkpoint holds the prompt, not a model"
        )
    out_dir = Path(args.out)
    check_outputs([out_dir], config_inputs(cfg, checkpoint_path, args.config))
    prepare_output_dir(out_dir, overwrite=args.overwrite)

    cfg = with_run_tokenizer(cfg, checkpoint_path)
    if cfg.model.tokenizer is None and cfg.model.name_or_path is None:
        raise CLIError(
            f"--checkpoint {checkpoint_path}: its run directory has no tokenizer/ to export with it"
        )
    tokenizer = load_tokenizer(cfg.model)
    model = load_causal_lm(
        cfg.model, tokenizer, seed=cfg.trainer.seed, reward_head=cfg.objective == "reward_model"
    )
    state = torch.load(checkpoint_path, map_location="cpu", mmap=True, weights_only=False)["state_dict"]
    weights = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise ConfigError(
            f"--checkpoint {checkpoint_path}: does not fit the config's model ({err})"
        ) from None
    save_hf(model, tokenizer, out_dir)
    print(f"exported {checkpoint_path} to {out_dir}")
    return 0
