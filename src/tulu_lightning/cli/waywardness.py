"""`python -m tulu_lightning waywardness`: the Prompt Waywardness sweep (target texts × γ × seeds).

Each run is a prompt-tuning fit logged to MLflow; the summary table, the accuracy-vs-F1 plot and the selected
γ per target text go to `sweep.out_dir` and to a summary MLflow run. Light at import: `--help` needs no torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML config (configs/waywardness/*.yaml)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier sweep's outputs in out_dir"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted sweep in out_dir: its finished fits are kept, the others run again",
    )
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. sweep.gammas=[0,1]")


def describe_config(args: argparse.Namespace) -> str:
    from tulu_lightning.config_docs import command_schema, describe

    return describe(command_schema("waywardness"), args.config, args.overrides)


def run(args: argparse.Namespace) -> int:

    from tulu_lightning.config import to_yaml
    from tulu_lightning.errors import CLIError, OutputError
    from tulu_lightning.files import check_outputs, prepare_output_dir
    from tulu_lightning.train import config_inputs
    from tulu_lightning.waywardness import SWEEP_OUTPUTS, SWEEP_STATE, format_table, load_config, sweep

    cfg = load_config(args.config, args.overrides)
    if args.print_config:
        print(to_yaml(cfg))
        return 0
    if args.resume and args.overwrite:
        raise CLIError(
            "--resume keeps an interrupted sweep's finished fits, --overwrite replaces them: pass one"
        )
    out = Path(cfg.sweep.out_dir)
    if (out / SWEEP_STATE).is_file() and not (args.resume or args.overwrite):
        raise OutputError(
            f"sweep.out_dir {out}: holds a sweep ({SWEEP_STATE}); pass --resume to continue it, or --overwrite to "
            "replace it"
        )
    check_outputs([out / name for name in SWEEP_OUTPUTS], config_inputs(cfg, args.config))
    prepare_output_dir(out, overwrite=args.overwrite or args.resume, option="sweep.out_dir")
    cfg.trainer.overwrite = args.overwrite  # each run's own directory under runs/
    results, run_id = sweep(cfg, resume=args.resume)
    print(format_table(results, cfg.sweep.f1_threshold))
    print(sweep_summary(cfg, results, run_id))
    return 0


def sweep_summary(cfg, results, run_id: str | None) -> str:
    from tulu_lightning.terminal import summary
    from tulu_lightning.waywardness import select_gammas

    out = Path(cfg.sweep.out_dir)
    figures = {
        f"target {index} selected γ": row["gamma"]
        for index, row in select_gammas(results, cfg.sweep.f1_threshold).items()
        if row is not None
    }
    return summary(
        f"waywardness sweep: {len(results)} prompt-tuning runs",
        {"table": out / "summary.md", "results": out / "summary.json", "plot": out / "accuracy_vs_f1.png",
         "runs": out / "runs"},
        figures,
        run_id,
        cfg.tracking.uri if cfg.tracking.enabled else None,
    )  # fmt: skip
