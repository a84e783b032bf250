"""Type stubs for the Rust extension `tulu_rewards._native` (facade: `tulu_rewards.verifiers`)."""

def version() -> str: ...

class VerifierError(ValueError):
    """Raised with args `(message, row)` (`row` None when no row is at fault) for misuse of the API: an
    unknown verifier name, lengths that differ. The facade re-raises `tulu_rewards.VerifierError`."""

# (score, status, extracted, error); status is one of correct, wrong, unparseable, timeout, error
_Verdict = tuple[float, str, str | None, str | None]

def verify_batch(
    verifiers: list[str],
    responses: list[str],
    ground_truths: list[str],
    prompts: list[str | None] | None = None,
    mode: str = "strict",
    partial: bool = False,
    max_response_bytes: int = 200_000,
    timeout_s: float = 2.0,
) -> list[_Verdict]: ...
def ground_truth_errors(verifiers: list[str], ground_truths: list[str]) -> list[str | None]: ...
def canonical_verifier(name: str) -> str: ...
def verifier_names() -> list[str]: ...
def verifier_aliases() -> list[tuple[str, str]]: ...
