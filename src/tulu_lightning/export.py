"""Export to a Hugging Face model directory (`save_pretrained` model + tokenizer), loadable by `transformers`
and so by vLLM. Works for plain and FSDP2-sharded models (the full state dict is gathered first)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tulu_lightning.files import atomic_path


def full_state_dict(model: torch.nn.Module, every_rank: bool = False) -> dict[str, torch.Tensor]:
    """The unsharded state dict on CPU. Under FSDP2 it is a collective (every rank must call it) and only rank 0
    receives it, the others an empty dict (torch's `cpu_offload` rule: one CPU copy per node, not one per rank);
    `every_rank` gathers it onto every rank instead, on the model's device (a local behaviour policy, or a
    rank's own vLLM engine, needs the whole weights on each rank)."""
    if any(isinstance(p, torch.distributed.tensor.DTensor) for p in model.parameters()):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=not every_rank)
        return get_model_state_dict(model, options=options)
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
