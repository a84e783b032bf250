"""`python -m tulu_lightning fit --config X.yaml [key=value ...]`: train with one objective (SFT, DPO, reward
model, RLVR, prompt tuning); the training machinery is `tulu_lightning.train`."""

from __future__ import annotations

import argparse
import time


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML config (its `objective:` picks sft, dpo, ...)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "--check-data", action="store_true", help="only validate every row of the data (as `check`) and exit"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier run's outputs in trainer.output_dir"
    )
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. optim.lr=1e-5")


def describe_config(args: argparse.Namespace) -> str:
    """Every field of the config `--config` fills in (by its objective), with its value there."""
    from tulu_lightning.config_docs import describe_run_config

    return describe_run_config(args.config, args.overrides)


def run(args: argparse.Namespace) -> int:
    from tulu_lightning.config import to_yaml
    from tulu_lightning.prepared import global_rank
    from tulu_lightning.train import fit, load_run_config

    cfg = load_run_config(args.config, args.overrides)
    if args.print_config:
        print(to_yaml(cfg))
        return 0
    if args.check_data:
        from tulu_lightning.cli.check import check_data

        return check_data(cfg)
    if getattr(args, "overwrite", False):
        cfg.trainer.overwrite = True
    started = time.perf_counter()
    result = fit(cfg, config_file=args.config)
    if global_rank() == 0:
        print(fit_summary(cfg, result, time.perf_counter() - started))
    return 0


def fit_summary(cfg, result, seconds: float) -> str:
    """The closing paragraph of a fit: run directory, model, figures, MLflow run."""
    from tulu_lightning.terminal import key_figures, summary

    return summary(
        f"{cfg.objective} trained in {seconds / 60:.1f} min",
        {"run directory": result.output_dir, "model": result.hf_dir},
        key_figures(result.metrics),
        result.run_id,
        cfg.tracking.uri if cfg.tracking.enabled else None,
    )
