"""Verifiable rewards: the `tulu-rewards` package (Rust verifiers, typed facade, TRL/verl/OpenRLHF adapters),
which tulu_lightning depends on; re-exported here under the names tulu_lightning has always used.

    >>> from tulu_lightning.rewards import verify
    >>> verify("gsm8k", ["... so the answer is 18.0"], ["18"])[0].score
    1.0

See `tulu_rewards.verifiers` for the verifiers and the rules they share.
"""

from tulu_rewards import (
    ALIASES,
    VERIFIERS,
    Mode,
    Status,
    Verdict,
    VerifierError,
    canonical_verifier,
    ground_truth_errors,
    reward_function,
    verify,
    verify_batch,
)

__all__ = [
    "ALIASES",
    "VERIFIERS",
    "Mode",
    "Status",
    "Verdict",
    "VerifierError",
    "canonical_verifier",
    "ground_truth_errors",
    "reward_function",
    "verify",
    "verify_batch",
]
