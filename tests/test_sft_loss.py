"""SFT loss: packed rows give each example the loss it has alone, and both reductions equal a hand computation
whatever the split of the optimizer step into micro-batches."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from tulu_lightning.chat import IGNORE_INDEX
from tulu_lightning.data import collate_packed
from tulu_lightning.objectives.sft import build, sum_token_nll
from tulu_lightning.train import load_run_config


def example_nll(model, example: dict) -> float:
    """−Σ log p over an example's trained tokens, by hand: one forward, log-softmax, gather."""
    ids = torch.tensor([example["input_ids"].tolist()])
    logits = model(input_ids=ids).logits[0]
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    total = 0.0
    for t, label in enumerate(example["labels"][1:].tolist()):
        if label != IGNORE_INDEX:
            total -= float(log_probs[t, label])
    return total


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from tests.conftest import tiny_sft_config, write_config

    tmp = tmp_path_factory.mktemp("sft")
    cfg = load_run_config(str(write_config(tmp, tiny_sft_config(tmp))))
    module, datamodule = build(cfg)
    datamodule.setup()
    return cfg, module, datamodule


def test_packed_row_gives_each_example_its_unpacked_loss(built):
    _, module, datamodule = built
    examples = [datamodule.store.train[i] for i in range(5)]
    model = module.model.eval()
    batch = collate_packed([examples[:3], examples[3:]], datamodule.tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
        packed_losses, offsets = [], {0: 0, 1: 0}
        for row, row_examples in enumerate([examples[:3], examples[3:]]):
            for example in row_examples:
                start, length = offsets[row], len(example["input_ids"])
                segment = slice(start, start + length)
                packed_losses.append(
                    float(
                        sum_token_nll(
                            logits[row : row + 1, segment], batch["targets"][row : row + 1, segment]
                        )
                    )
                )
                offsets[row] += length
        alone = [example_nll(model, e) for e in examples]
        # Sanity: without restarting positions (plain concatenation) the examples would see each other.
        leaky = model(input_ids=batch["input_ids"]).logits
    assert packed_losses == pytest.approx(alone, rel=1e-4)
    assert not torch.allclose(leaky, logits, atol=1e-4)


def test_packing_targets_never_cross_examples(built):
    _, _, datamodule = built
    examples = [datamodule.store.train[i] for i in range(2)]
    batch = collate_packed([examples], datamodule.tokenizer.pad_token_id)
    boundary = len(examples[0]["input_ids"]) - 1
    assert batch["targets"][0, boundary] == IGNORE_INDEX  # last token of example 0 predicts nothing
    assert batch["position_ids"][0, boundary + 1] == 0


class GradCapture(L.Callback):
    def __init__(self):
        self.grads: dict[str, torch.Tensor] = {}
        self.metrics: dict[str, float] = {}

    def on_before_optimizer_step(self, trainer, module, optimizer):
        self.grads = {n: p.grad.detach().clone() for n, p in module.model.named_parameters()}

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}


def one_step(tmp_path, reduction: str, micro_batch_size: int, accumulation: int):
    from tests.conftest import tiny_sft_config, write_config

    cfg_dict = tiny_sft_config(
        tmp_path,
        trainer={
            "max_steps": 1,
            "micro_batch_size": micro_batch_size,
            "gradient_accumulation_steps": accumulation,
        },
        sft={"reduction": reduction, "packing": False},
        optim={"lr": 1e-3, "max_grad_norm": None, "warmup_steps": 0},
        tracking={"enabled": False},
    )
    cfg = load_run_config(str(write_config(tmp_path, cfg_dict, f"{reduction}{micro_batch_size}.yaml")))
    module, datamodule = build(cfg)
    initial = {k: v.clone() for k, v in module.model.state_dict().items()}
    capture = GradCapture()
    trainer = L.Trainer(
        max_steps=1,
        logger=False,
        callbacks=[capture],
        enable_checkpointing=False,
        enable_progress_bar=False,
        use_distributed_sampler=False,
        limit_val_batches=0,
        accelerator="cpu",
    )
    trainer.fit(module, datamodule=datamodule)
    step_rows = datamodule.step_sampler().steps()[0]
    examples = [datamodule.train_items[i][0] for mb in step_rows for i in mb]
    return capture, examples, initial, datamodule


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_step_loss_equals_hand_computation_and_ignores_the_split(tmp_path, reduction):
    results = [one_step(tmp_path, reduction, mb, acc) for mb, acc in [(4, 1), (2, 2), (1, 4)]]
    capture, examples, initial, datamodule = results[0]
    for other, other_examples, *_ in results[1:]:
        assert [e["input_ids"].tolist() for e in other_examples] == [
            e["input_ids"].tolist() for e in examples
        ]
        for name, grad in capture.grads.items():
            torch.testing.assert_close(other.grads[name], grad, rtol=1e-4, atol=1e-6)
        assert other.metrics["train/loss"] == pytest.approx(capture.metrics["train/loss"], rel=1e-5)

    # Hand computation from the initial weights.
    model = build(datamodule.cfg)[0].model
    model.load_state_dict(initial)
    nlls = [example_nll(model.eval(), e) for e in examples]
    tokens = sum(sum(label != IGNORE_INDEX for label in e["labels"][1:]) for e in examples)
    expected = sum(nlls) / (tokens if reduction == "mean" else len(examples))
    assert capture.metrics["train/loss"] == pytest.approx(expected, rel=1e-4)
