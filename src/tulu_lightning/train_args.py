"""Options of `fit` (kept apart from `train.py` so `--help` does not import torch)."""


def configure_parser(parser) -> None:
    parser.add_argument("--config", required=True, help="YAML config (its `objective:` picks sft, dpo, ...)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "--check-data", action="store_true", help="only validate every row of the data (as `check`) and exit"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier run's outputs in trainer.output_dir"
    )
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. optim.lr=1e-5")
