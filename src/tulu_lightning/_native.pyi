"""Type stubs for the Rust extension `tulu_lightning._native`."""

def version() -> str: ...
def pack_sequences(lengths: list[int], capacity: int) -> list[list[int]]: ...

class VerifierError(ValueError):
    """Raised with args `(message, row)`; the facade re-raises `tulu_lightning.rewards.VerifierError`."""

def verify_batch(
    verifiers: list[str],
    responses: list[str],
    ground_truths: list[str],
    prompts: list[str | None] | None = None,
    mode: str = "strict",
    partial: bool = False,
    max_response_bytes: int = 200_000,
    timeout_s: float = 2.0,
) -> list[tuple[float, str, str | None]]: ...
def verifier_names() -> list[str]: ...
