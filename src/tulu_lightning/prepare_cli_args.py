"""Options of `prepare` (kept apart from `prepare_cli.py` so `--help` does not import torch)."""


def configure_parser(parser) -> None:
    parser.add_argument(
        "--config", required=True, help="YAML config of a `fit` run (its data, model, limits)"
    )
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. data.num_proc=16")
