"""Options of `eval` (kept apart so `--help` does not import torch)."""


def configure_parser(parser) -> None:
    parser.add_argument("--config", required=True, help="evaluation suite YAML (configs/eval/*.yaml)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier evaluation in output_dir"
    )
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. model=outputs/x/hf")
