"""HFRollout's own decoding loop against Hugging Face `generate` (the reference it replaces): the same tokens for
the same seed, while each prompt is prefilled once and finished rows stop costing forwards."""

import pytest
import torch

from tulu_lightning.config import ModelConfig, TinyModelConfig
from tulu_lightning.models import load_causal_lm, load_tokenizer
from tulu_lightning.rollout import HFRollout, SamplingParams

TEXTS = ["the answer is 21", "what is two plus two", "hello world", "Ünïcödé ☃ and emoji 🙂"]


@pytest.fixture(scope="module")
def policy():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: threads only cost it on a busy machine
    tiny = TinyModelConfig(vocab_size=320, hidden_size=48, intermediate_size=96, num_hidden_layers=2)
    cfg = ModelConfig(tiny=tiny)
    tokenizer = load_tokenizer(cfg, texts=TEXTS * 4)
    torch.manual_seed(0)
    model = load_causal_lm(cfg, tokenizer)
    prompts = [tokenizer(text)["input_ids"] for text in TEXTS]  # different lengths: left padding matters
    yield model, tokenizer, prompts
    torch.set_num_threads(threads)


def hf_generate(model, tokenizer, prompts, params, stop_ids):
    """`model.generate` on the prompts repeated n times (the old backend): new tokens per row, cut after the
    first stop token, and the log-probs of those tokens."""
    rows = [ids for ids in prompts for _ in range(params.n)]
    width = max(map(len, rows))
    input_ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    attention_mask = torch.zeros_like(input_ids)
    for row, ids in enumerate(rows):
        input_ids[row, width - len(ids) :] = torch.tensor(ids)
        attention_mask[row, width - len(ids) :] = 1
    greedy = params.temperature == 0
    torch.manual_seed(params.seed or 0)
    out = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        max_new_tokens=params.max_tokens,
        do_sample=not greedy,
        temperature=None if greedy else params.temperature,
        top_p=None if greedy else params.top_p,
        top_k=None,
        eos_token_id=stop_ids,
        pad_token_id=tokenizer.pad_token_id,
        return_dict_in_generate=True,
        output_logits=True,
    )
    logits = torch.stack(out.logits, dim=1) / (1.0 if greedy else params.temperature)
    new = out.sequences[:, width:]
    logprobs = torch.log_softmax(logits, dim=-1).gather(-1, new.unsqueeze(-1)).squeeze(-1)
    result = []
    for tokens, values in zip(new.tolist(), logprobs.tolist()):
        end = next((i + 1 for i, t in enumerate(tokens) if t in stop_ids), len(tokens))
        result.append((tokens[:end], values[:end]))
    return result


@pytest.mark.parametrize(
    "n, temperature, top_p", [(1, 0.0, 1.0), (3, 0.0, 1.0), (1, 1.0, 1.0), (3, 0.7, 1.0), (3, 1.0, 0.9)]
)
def test_same_tokens_as_generate(policy, n, temperature, top_p):
    model, tokenizer, prompts = policy
    params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=12, seed=3)
    ours = HFRollout(model, tokenizer).generate(prompts, params)
    expected = hf_generate(model, tokenizer, prompts, params, [tokenizer.eos_token_id])
    assert [c.prompt_index for c in ours] == [i for i in range(len(prompts)) for _ in range(n)]
    # generate keeps drawing for finished rows, so the random streams part when the first row stops (EOS): up
    # to there, one draw per row and step from the same distributions, the same tokens
    same = min(len(tokens) for tokens, _ in expected)
    assert same >= 4
    for completion, (tokens, logprobs) in zip(ours, expected):
        assert completion.token_ids[:same] == tokens[:same]
        assert completion.logprobs[:same] == pytest.approx(logprobs[:same], abs=1e-4)
    if temperature == 0:  # no random stream: every token
        assert [c.token_ids for c in ours] == [tokens for tokens, _ in expected]


def test_prompts_prefilled_once_and_finished_rows_leave(policy):
    model, tokenizer, prompts = policy
    greedy = SamplingParams(n=2, temperature=0.0, max_tokens=10)
    first = [c.token_ids[0] for c in HFRollout(model, tokenizer).generate(prompts, greedy)]
    stop = first[2]  # the second prompt's greedy reply starts with it: its rows stop at once, others go on
    assert first.count(stop) < len(first)
    params = SamplingParams(n=2, temperature=0.0, max_tokens=10, stop_token_ids=[stop])
    batch_sizes = []
    hook = model.register_forward_hook(
        lambda module, args, kwargs, out: batch_sizes.append(len(out.logits)), with_kwargs=True
    )
    try:
        ours = HFRollout(model, tokenizer).generate(prompts, params)
    finally:
        hook.remove()
    expected = hf_generate(model, tokenizer, prompts, params, [tokenizer.eos_token_id, stop])
    assert [c.token_ids for c in ours] == [tokens for tokens, _ in expected]
    assert [c.finish_reason for c in ours] == ["stop" if t[-1] == stop else "length" for t, _ in expected]
    live = sum(len(c.token_ids) > 1 for c in ours)
    assert batch_sizes[0] == len(prompts)  # one prefill row per prompt, not per sample
    assert batch_sizes[1:] == [live] * (greedy.max_tokens - 1)  # the stopped rows never forwarded again


def test_generation_batch_size_keeps_a_prompts_samples_together(policy):
    model, tokenizer, prompts = policy
    params = SamplingParams(n=3, temperature=1.0, max_tokens=6, seed=0)
    whole = HFRollout(model, tokenizer, batch_size=64).generate(prompts, params)
    small = HFRollout(model, tokenizer, batch_size=4).generate(prompts, params)  # one prompt (3 rows) a batch
    assert [c.prompt_index for c in small] == [c.prompt_index for c in whole]
    assert all(len(c.token_ids) == params.max_tokens for c in small)
