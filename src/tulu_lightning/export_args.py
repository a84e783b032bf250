"""Options of `export` (kept apart so `--help` does not import torch)."""


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
