"""`vllm.inputs.TokensPrompt` of the test stand-in (see `vllm/__init__.py`): a prompt given as token ids."""


def TokensPrompt(prompt_token_ids: list[int]) -> dict:  # vLLM's name (a TypedDict there)
    return {"prompt_token_ids": prompt_token_ids}
