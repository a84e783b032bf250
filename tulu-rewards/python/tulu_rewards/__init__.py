"""tulu_rewards: verifiable rewards for RL on language models, in Rust (Tülu 3's verifiers).

    >>> from tulu_rewards import verify
    >>> verify("math", ["... so the answer is $\\boxed{\\frac{1}{2}}$"], ["0.5"])[0].status
    'correct'

`verify` / `verify_batch` score responses against ground truths (`Verdict`: score, status, extracted answer,
error); `canonical_verifier` and `ground_truth_errors` check names and ground truths up front. Adapters:
`tulu_rewards.trl` (TRL's `reward_funcs`), `tulu_rewards.verl` (verl's `compute_score`),
`tulu_rewards.openrlhf` (OpenRLHF's remote reward server, `tulu-rewards serve`). No dependencies beyond
the standard library.
"""

from tulu_rewards import _native
from tulu_rewards.trl import reward_function
from tulu_rewards.verifiers import (
    ALIASES,
    VERIFIERS,
    Mode,
    Status,
    Verdict,
    VerifierError,
    canonical_verifier,
    ground_truth_errors,
    verify,
    verify_batch,
)

__version__: str = _native.version()

__all__ = [
    "ALIASES",
    "VERIFIERS",
    "Mode",
    "Status",
    "Verdict",
    "VerifierError",
    "__version__",
    "canonical_verifier",
    "ground_truth_errors",
    "reward_function",
    "verify",
    "verify_batch",
]
