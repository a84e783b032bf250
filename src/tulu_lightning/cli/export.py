"""`python -m tulu_lightning export --checkpoint RUN/checkpoints/X.ckpt --out DIR`: a training checkpoint to a
Hugging Face model directory (`tulu_lightning.export` does the writing)."""

from __future__ import annotations

from pathlib import Path


def configure_parser(parser) -> None:
    parser.add_argument(
        "--checkpoint", required=True, help="a Lightning checkpoint (<run>/checkpoints/*.ckpt)"
    )
    parser.add_argument("--out", required=True, help="output directory (new or empty)")
    parser.add_argument(
        "--config",
        help="the YAML config the checkpoint was trained with (default: <run>/config.yaml; if given, it must agree)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out directory")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")


def run(args) -> int:
    """Export a checkpoint with the config and tokenizer of its own run directory (`<run>/config.yaml`,
    `<run>/tokenizer`), so the weights always go out with the tokenizer they were trained with."""
    import torch

    from tulu_lightning.errors import CLIError, ConfigError
    from tulu_lightning.export import save_hf
    from tulu_lightning.files import check_outputs, prepare_output_dir
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
    reward_model = cfg.objective == "reward_model"
    loader = "AutoModelForSequenceClassification" if reward_model else "AutoModelForCausalLM"
    evaluate = (
        ""
        if reward_model
        else f"; evaluate it: python -m tulu_lightning eval --suite tulu3_dev --model {out_dir}"
    )
    print(
        f"exported {checkpoint_path} ({cfg.objective}) to {out_dir}, a Hugging Face model directory with the "
        f"tokenizer it was trained with; load it with {loader}.from_pretrained({str(out_dir)!r}){evaluate}"
    )
    return 0
