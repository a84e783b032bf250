"""Options of `export` (kept apart so `--help` does not import torch)."""


def configure_parser(parser) -> None:
    parser.add_argument("--config", required=True, help="the YAML config the checkpoint was trained with")
    parser.add_argument("--checkpoint", required=True, help="a Lightning checkpoint (.ckpt file)")
    parser.add_argument("--out", required=True, help="output directory (must not exist)")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
