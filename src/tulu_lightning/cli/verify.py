"""`python -m tulu_lightning verify`: score a JSONL file of responses with a verifier — the `tulu-rewards verify`
command of the tulu-rewards package (same options, same one-line errors)."""

from tulu_rewards.cli import configure_verify_parser as configure_parser
from tulu_rewards.cli import run_verify as run

__all__ = ["configure_parser", "run"]
