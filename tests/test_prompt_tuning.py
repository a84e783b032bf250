"""Prompt tuning: the loss equals its formula, the γ term moves the gradient, only the prompt trains."""

from __future__ import annotations

import pytest
import torch
from conftest import DEMO_DATA, write_config

from tulu_lightning.chat import IGNORE_INDEX
from tulu_lightning.config import ConfigError
from tulu_lightning.data import DataError
from tulu_lightning.objectives.prompt_tuning import (
    TaskConfig,
    collate_right_padded,
    encode,
    label_index,
    per_example_mean_nll,
    prefix_and_choices,
    read_table,
    waywardness_loss,
    waywardness_penalty,
)

TINY = {
    "vocab_size": 300,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
}


def tiny_prompt_config(tmp_path, **prompt_tuning) -> dict:
    return {
        "objective": "prompt_tuning",
        "model": {"tiny": TINY},
        "data": {
            "train_files": [str(DEMO_DATA / "sentiment_train.tsv")],
            "val_files": [str(DEMO_DATA / "sentiment_val.tsv")],
            "max_train_samples": 64,
        },
        "prompt_tuning": {"target_text": "a story about a cat", "max_val_samples": 16, **prompt_tuning},
        "optim": {"lr": 0.01},
        "trainer": {
            "output_dir": str(tmp_path / "run"),
            "max_epochs": -1,
            "max_steps": 4,
            "micro_batch_size": 4,
            "gradient_accumulation_steps": 2,
            "accelerator": "cpu",
            "log_every_n_steps": 1,
            "export": False,
        },
        "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
    }


def test_penalty_is_mean_squared_distance_by_hand():
    prompt = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    # ((1² + 2²) + (2² + 3²)) / 2 = (5 + 13) / 2
    assert waywardness_penalty(prompt, target).item() == pytest.approx(9.0)


def test_loss_is_mean_of_per_example_mean_nll_plus_gamma_penalty():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 5)
    targets = torch.tensor(
        [[IGNORE_INDEX, 1, 2, IGNORE_INDEX], [3, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]]
    )
    logp = logits.log_softmax(-1)
    first = -(logp[0, 1, 1] + logp[0, 2, 2]) / 2
    second = -logp[1, 0, 3]
    assert torch.allclose(per_example_mean_nll(logits, targets), torch.stack([first, second]))
    prompt, target = torch.randn(3, 5), torch.randn(3, 5)
    penalty = sum(((prompt[i] - target[i]) ** 2).sum() for i in range(3)) / 3
    expected = (first + second) / 2 + 0.25 * penalty
    assert waywardness_loss(logits, targets, prompt, target, gamma=0.25).item() == pytest.approx(
        expected.item()
    )


def test_template_encoding_labels_only_the_verbalizer():
    task = TaskConfig()
    prefix, choices = prefix_and_choices(task, "the film was dull")
    assert prefix == "the film was dull It was" and choices == [" terrible", " great"]
    tokenizer = _tokenizer()
    example = encode(tokenizer, prefix, choices[1])
    labelled = [t for t in example["labels"] if t != IGNORE_INDEX]
    assert tokenizer.decode(labelled) == " great"
    batch = collate_right_padded([example, encode(tokenizer, "a", " b")], tokenizer.pad_token_id)
    assert batch["attention_mask"][1].tolist()[-1] == 0  # right padding
    assert batch["targets"][0].tolist() == [*example["labels"][1:], IGNORE_INDEX]


def test_bad_rows_are_named(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("text\tlabel\ngood\t1\nno label column\n")
    with pytest.raises(DataError, match=r"bad.tsv:3"):
        read_table(path)
    with pytest.raises(DataError, match="row 7: label 'maybe'"):
        label_index({"text": "x", "label": "maybe"}, TaskConfig(), "row 7")
    assert label_index({"text": "x", "label": "great"}, TaskConfig(), "row 0") == 1
    assert label_index({"text": "x", "label": "0"}, TaskConfig(), "row 0") == 0


def test_config_errors(tmp_path):
    from tulu_lightning.train import load_run_config

    path = write_config(tmp_path, tiny_prompt_config(tmp_path, target_text=None, gamma=0.1))
    with pytest.raises(ConfigError, match="target_text"):
        load_run_config(str(path))
    with pytest.raises(ConfigError, match=r"prompt_tuning\.init"):
        load_run_config(str(write_config(tmp_path, tiny_prompt_config(tmp_path, init="zeros"))))


def _module(tmp_path, **prompt_tuning):
    from tulu_lightning.objectives.prompt_tuning import build
    from tulu_lightning.train import load_run_config

    cfg = load_run_config(str(write_config(tmp_path, tiny_prompt_config(tmp_path, **prompt_tuning))))
    module, datamodule = build(cfg)
    datamodule.setup()
    return module, datamodule


def _tokenizer():
    from tulu_lightning.models import train_tiny_tokenizer

    return train_tiny_tokenizer(["the film was dull It was great terrible a b"], 300)


def test_gamma_term_changes_the_prompt_gradient_by_its_formula(tmp_path):
    module, datamodule = _module(tmp_path, init="vocab")
    batch = datamodule.collate(datamodule.train_items[:4])
    prompt = module.prompt.weight
    gradients = {}
    for gamma in (0.0, 2.0):
        prompt.grad = None
        loss = module.example_nll(batch).mean() + gamma * module.penalty()
        loss.backward()
        gradients[gamma] = prompt.grad.clone()
    # d/dp of γ·(1/L)·Σ‖pᵢ − E[wᵢ]‖² = 2γ(p − E[w])/L
    expected = 2 * 2.0 * (prompt.detach() - module.target_embeddings) / len(prompt)
    assert not torch.allclose(gradients[0.0], gradients[2.0])
    assert torch.allclose(gradients[2.0] - gradients[0.0], expected, atol=1e-6)


def test_prompt_length_and_init(tmp_path):
    module, _ = _module(tmp_path, init="target")
    target_ids = module.tokenizer("a story about a cat", add_special_tokens=False)["input_ids"]
    embeddings = module.model.get_input_embeddings().weight
    assert module.prompt.weight.shape == (len(target_ids), embeddings.shape[1])
    assert torch.equal(module.prompt.weight.detach(), embeddings[torch.tensor(target_ids)])


@pytest.mark.slow
def test_fit_trains_only_the_prompt(tmp_path):
    from tulu_lightning.train import fit, load_run_config

    cfg = load_run_config(str(write_config(tmp_path, tiny_prompt_config(tmp_path, gamma=0.5))))
    from tulu_lightning.objectives.prompt_tuning import build

    reference, _ = build(cfg)
    before = {k: v.clone() for k, v in reference.model.state_dict().items()}
    result = fit(cfg)
    module = result.module
    after = module.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the LM is frozen (same seed, same weights)
    assert [name for name, p in module.named_parameters() if p.requires_grad] == ["prompt.weight"]
    assert not torch.allclose(module.prompt.weight.detach(), reference.prompt.weight.detach())
    assert 0.0 <= result.metrics["val/accuracy"] <= 1.0 and "val/f1" in result.metrics
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert list(checkpoint["state_dict"]) == ["prompt.weight"]
