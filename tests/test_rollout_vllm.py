"""The vLLM backend (`rollout_vllm.VLLMRollout`, `rlvr.backend=vllm`) run on CPU against a stand-in engine
(tests/fake_vllm: vLLM's offline API answered by the HF model, sampling and reporting log-probs as vLLM V1 does):
the engine's log-probs are those of the policy that sampled (softmax(logits / T)), pushed weights reach it, and a
resumed fit samples from the checkpoint's weights, not the starting ones."""

import sys
from pathlib import Path

import pytest
import torch
from test_rlvr_step import one_thread, rlvr_config  # noqa: F401  (the fixture is autouse)

from tulu_lightning.objectives.rlvr import response_logits, token_logprobs
from tulu_lightning.rollout import SamplingParams
from tulu_lightning.train import build_objective, fit

FAKE_VLLM = Path(__file__).parent / "fake_vllm"


@pytest.fixture
def engines(monkeypatch):
    """The stand-in `vllm` importable (shadowing a real one), and the list of engines it builds."""
    monkeypatch.syspath_prepend(str(FAKE_VLLM))
    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    import vllm

    assert vllm.__file__.startswith(str(FAKE_VLLM))
    monkeypatch.setattr(vllm, "ENGINES", [])
    return vllm.ENGINES


@pytest.fixture
def policy(tmp_path):
    """A tiny policy, its tokenizer and its HF directory (what the engine loads)."""
    module, datamodule = build_objective(rlvr_config(tmp_path))
    datamodule.setup()
    module.model.save_pretrained(tmp_path / "hf")
    module.tokenizer.save_pretrained(tmp_path / "hf")
    return module, datamodule


def test_the_engines_logprobs_are_those_of_the_policy_that_sampled(tmp_path, engines, policy):
    from tulu_lightning.rollout_vllm import VLLMRollout

    module, datamodule = policy
    rollout = VLLMRollout(str(tmp_path / "hf"), module.tokenizer, seed=0)
    prompts = [p["prompt_ids"] for p in datamodule.train_items[:3]]
    temperature = 0.7
    completions = rollout.generate(prompts, SamplingParams(n=2, temperature=temperature, max_tokens=6))
    assert [c.prompt_index for c in completions] == [0, 0, 1, 1, 2, 2]
    batch = module.layout([prompts[c.prompt_index] for c in completions], [c.token_ids for c in completions])
    with torch.no_grad():
        trainer = token_logprobs(response_logits(module.model, batch), batch["responses"], temperature)
    for row, completion in enumerate(completions):
        n = len(completion.token_ids)
        assert completion.finish_reason in ("stop", "length") and len(completion.logprobs) == n
        torch.testing.assert_close(torch.tensor(completion.logprobs), trainer[row, :n], rtol=0, atol=1e-5)
    assert engines[0].logprobs_mode == "processed_logprobs"  # vLLM's default is before temperature


def test_pushed_weights_reach_the_engine(tmp_path, engines, policy):
    from tulu_lightning.rollout_vllm import VLLMRollout

    module, _ = policy
    rollout = VLLMRollout(str(tmp_path / "hf"), module.tokenizer, seed=0)
    with torch.no_grad():
        for parameter in module.model.parameters():
            parameter.add_(torch.randn_like(parameter))
    rollout.push_weights(module.model)
    engine = engines[0].hf.state_dict()
    for name, value in module.model.state_dict().items():
        torch.testing.assert_close(engine[name], value, rtol=0, atol=0, msg=name)
    assert engines[0].prefix_cache_resets == 1  # cached KV blocks came from the old weights


@pytest.mark.parametrize("async_mode", [False, True])
def test_a_resumed_fit_samples_from_the_checkpoints_weights(tmp_path, engines, policy, async_mode):
    """Two rollout batches with a checkpoint after each, then the run resumed for a third: the engine (built from
    the starting HF directory) must sample the third from the second's weights. Before, the synchronous path
    pushed weights only after an update, so the first batch after a resume came from the starting weights."""
    module, _ = policy
    cfg = rlvr_config(
        tmp_path,
        rlvr={"backend": "vllm", "async_mode": async_mode},
        trainer={"max_steps": 2, "checkpoint_every_n_steps": 1},
        model={"tiny": None, "name_or_path": str(tmp_path / "hf")},
    )
    first = fit(cfg)
    trained = first.module.model.state_dict()
    assert any(not torch.equal(trained[k], v) for k, v in module.model.state_dict().items())  # it learned

    cfg.trainer.max_steps, cfg.trainer.resume_from = 3, "last"
    fit(cfg)
    resumed = engines[-1]
    assert len(resumed.generations) == 1  # the third batch (async: sampled with the behaviour copy, not here)
    for name, value in trained.items():
        torch.testing.assert_close(resumed.generations[0][name], value, rtol=0, atol=0, msg=name)
