"""DPO: each loss equals its formula on known log-probs; the module's log-probs equal a by-hand sum; the cached
reference equals the live one; the step's loss does not depend on how it is split (micro-batches, 2 FSDP2 ranks)."""

from __future__ import annotations

import math

import pytest
import torch
from mlflow import MlflowClient
from safetensors.torch import load_file

from tests.conftest import merge_sections, tiny_preference_config, write_config
from tests.test_distributed import run_fit
from tulu_lightning.chat import IGNORE_INDEX
from tulu_lightning.cli import main
from tulu_lightning.data import DataError
from tulu_lightning.objectives.dpo import (
    DPOSection,
    build,
    dpo_loss,
    ipo_loss,
    preference_loss,
    sequence_logprobs,
    simpo_loss,
)
from tulu_lightning.schemas import preference_row
from tulu_lightning.train import fit, load_run_config


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


# Known per-sequence log-probs of two pairs: policy and reference, chosen and rejected, and token counts.
POLICY_C, POLICY_R = [-10.0, -4.0], [-12.0, -3.0]
REF_C, REF_R = [-11.0, -4.5], [-11.5, -2.0]
TOKENS_C, TOKENS_R = [5.0, 2.0], [4.0, 2.0]


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_dpo_loss_equals_formula(smoothing):
    beta = 0.1
    loss, chosen, rejected = dpo_loss(t(POLICY_C), t(POLICY_R), t(REF_C), t(REF_R), beta, smoothing)
    for i in range(2):
        h = (POLICY_C[i] - REF_C[i]) - (POLICY_R[i] - REF_R[i])
        expected = -(1 - smoothing) * log_sigmoid(beta * h) - smoothing * log_sigmoid(-beta * h)
        assert float(loss[i]) == pytest.approx(expected, rel=1e-12)
        assert float(chosen[i]) == pytest.approx(beta * (POLICY_C[i] - REF_C[i]))
        assert float(rejected[i]) == pytest.approx(beta * (POLICY_R[i] - REF_R[i]))


def test_dpo_norm_uses_mean_token_logprobs():
    beta = 5.0
    cfg = DPOSection(loss_type="dpo_norm", beta=beta)
    loss, chosen, _ = preference_loss(cfg, t(POLICY_C + POLICY_R), t(REF_C + REF_R), t(TOKENS_C + TOKENS_R))
    for i in range(2):
        h = (POLICY_C[i] - REF_C[i]) / TOKENS_C[i] - (POLICY_R[i] - REF_R[i]) / TOKENS_R[i]
        assert float(loss[i]) == pytest.approx(-log_sigmoid(beta * h), rel=1e-12)
        assert float(chosen[i]) == pytest.approx(beta * (POLICY_C[i] - REF_C[i]) / TOKENS_C[i])
    # plain dpo through the same dispatcher uses the sums
    plain, *_ = preference_loss(
        DPOSection(loss_type="dpo", beta=beta),
        t(POLICY_C + POLICY_R),
        t(REF_C + REF_R),
        t(TOKENS_C + TOKENS_R),
    )
    torch.testing.assert_close(plain, dpo_loss(t(POLICY_C), t(POLICY_R), t(REF_C), t(REF_R), beta)[0])


def test_simpo_loss_equals_formula_and_ignores_the_reference():
    beta, ratio = 2.0, 0.5
    cfg = DPOSection(loss_type="simpo", beta=beta, simpo_gamma_beta_ratio=ratio)
    loss, chosen, rejected = preference_loss(cfg, t(POLICY_C + POLICY_R), None, t(TOKENS_C + TOKENS_R))
    for i in range(2):
        avg_c, avg_r = POLICY_C[i] / TOKENS_C[i], POLICY_R[i] / TOKENS_R[i]
        assert float(loss[i]) == pytest.approx(-log_sigmoid(beta * (avg_c - avg_r) - ratio * beta), rel=1e-12)
        assert float(chosen[i]) == pytest.approx(beta * avg_c)
        assert float(rejected[i]) == pytest.approx(beta * avg_r)
    direct, *_ = simpo_loss(t([POLICY_C[0] / 5]), t([POLICY_R[0] / 4]), beta, ratio)
    assert float(direct[0]) == pytest.approx(float(loss[0]))


def test_ipo_loss_equals_formula():
    beta = 0.5
    loss, *_ = ipo_loss(t(POLICY_C), t(POLICY_R), t(REF_C), t(REF_R), beta)
    for i in range(2):
        h = (POLICY_C[i] - REF_C[i]) - (POLICY_R[i] - REF_R[i])
        assert float(loss[i]) == pytest.approx((h - 1 / (2 * beta)) ** 2, rel=1e-12)


def test_identical_policy_and_reference_give_log_2():
    loss, *_ = dpo_loss(t(POLICY_C), t(POLICY_R), t(POLICY_C), t(POLICY_R), beta=3.0)
    torch.testing.assert_close(loss, t([math.log(2)] * 2))


# --- the module on a tiny model ---------------------------------------------------------------------------


def tiny_dpo_config(tmp_path, **sections) -> dict:
    cfg = tiny_preference_config(
        tmp_path,
        "dpo",
        optim={"lr": 1e-3, "warmup_steps": 0, "max_grad_norm": None},
        dpo={"loss_type": "dpo", "beta": 0.5, "reference_cache_dir": str(tmp_path / "cache")},
    )
    return merge_sections(cfg, sections)


def fit_dpo(tmp_path, name: str, **sections):
    cfg = load_run_config(
        str(write_config(tmp_path, tiny_dpo_config(tmp_path / name, **sections), f"{name}.yaml"))
    )
    result = fit(cfg)
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    losses = [
        m.value for m in sorted(client.get_metric_history(result.run_id, "train/loss"), key=lambda m: m.step)
    ]
    return result, losses, load_file(result.hf_dir / "model.safetensors")


def test_sequence_logprobs_equal_a_by_hand_sum(tmp_path):
    cfg = load_run_config(str(write_config(tmp_path, tiny_dpo_config(tmp_path))))
    module, datamodule = build(cfg)
    datamodule.setup()
    batch = datamodule.collate(datamodule.train_items[:3])
    model = module.model.eval()
    with torch.no_grad():
        logps = sequence_logprobs(model, batch)
        for row, item in enumerate(
            [
                *(i["chosen"] for i in datamodule.train_items[:3]),
                *(i["rejected"] for i in datamodule.train_items[:3]),
            ]
        ):
            log_probs = torch.log_softmax(model(torch.tensor([item["input_ids"]])).logits[0].double(), -1)
            expected = sum(
                float(log_probs[pos, label])
                for pos, label in enumerate(item["labels"][1:])
                if label != IGNORE_INDEX
            )
            assert float(logps[row]) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("loss_type", ["dpo", "dpo_norm", "ipo"])
def test_cached_reference_equals_live_reference(tmp_path, loss_type):
    live, live_losses, live_weights = fit_dpo(
        tmp_path, "live", dpo={"reference": "live", "loss_type": loss_type}
    )
    cached, cached_losses, cached_weights = fit_dpo(
        tmp_path, "cached", dpo={"reference": "cached", "loss_type": loss_type}
    )
    # Step 1 scores the same weights: only the reference's last float bits differ. Later steps start from weights
    # that differ by the Adam effect described below, which IPO's squared margin turns into ~3e-5 of its loss.
    assert live_losses[0] == pytest.approx(cached_losses[0], rel=1e-5)
    assert live_losses == pytest.approx(cached_losses, rel=1e-4)
    if loss_type != "ipo":  # the first step starts from policy = reference: h = 0
        assert live_losses[0] == pytest.approx(math.log(2), rel=1e-5)
    # The cached log-probs were summed in other batch shapes, so they differ from the live ones in the last float
    # bits; Adam divides each gradient by its own RMS, which can turn that into a few % of one step (LR 1e-3) on a
    # weight whose gradient is near zero.
    for name, value in live_weights.items():
        torch.testing.assert_close(cached_weights[name], value, rtol=1e-4, atol=5e-5)
    assert cached.module.ref_model is None and live.module.ref_model is not None
    # a second run with the same model, data and settings reuses the cache file
    files = list((tmp_path / "cached" / "cache").glob("*.pt"))
    assert len(files) == 1
    again, again_losses, _ = fit_dpo(
        tmp_path,
        "cached",
        dpo={"reference": "cached", "loss_type": loss_type},
        trainer={"output_dir": str(tmp_path / "again")},
    )
    assert again_losses == pytest.approx(cached_losses, rel=1e-6)
    tags = MlflowClient(tracking_uri=again.module.cfg.tracking.uri).get_run(again.run_id).data.tags
    assert tags["reference_cache"] == str(files[0].resolve())


def test_accumulation_and_separate_forwards_give_the_same_steps(tmp_path):
    _, base_losses, base_weights = fit_dpo(tmp_path, "base")
    for name, sections in {
        "accumulated": {"trainer": {"micro_batch_size": 2, "gradient_accumulation_steps": 2}},
        "separate": {"dpo": {"concatenated_forward": False}},
    }.items():
        _, losses, weights = fit_dpo(tmp_path, name, **sections)
        assert losses == pytest.approx(base_losses, rel=1e-5), name
        for key, value in base_weights.items():
            torch.testing.assert_close(weights[key], value, rtol=1e-4, atol=1e-5)


@pytest.mark.distributed
def test_two_fsdp2_processes_match_one(tmp_path):
    single = tiny_dpo_config(tmp_path / "one", tracking={"enabled": False}, data={"val_files": []})
    run_fit(write_config(tmp_path, single, "one.yaml"))
    sharded = tiny_dpo_config(
        tmp_path / "two",
        tracking={"enabled": False},
        data={"val_files": []},
        trainer={"micro_batch_size": 2, "devices": 2, "strategy": "fsdp2"},
    )
    run_fit(write_config(tmp_path, sharded, "two.yaml"))
    one = load_file(tmp_path / "one" / "run" / "hf" / "model.safetensors")
    two = load_file(tmp_path / "two" / "run" / "hf" / "model.safetensors")
    initial = build(load_run_config(str(tmp_path / "one.yaml")))[0].model.state_dict()
    assert any(not torch.equal(value, initial[name]) for name, value in one.items()), "training did nothing"
    # Adam divides each gradient element by its own running RMS, so an element whose gradient is at
    # rounding level (where the all-reduce order of two ranks changes the last bits) can move by a visible
    # fraction of the learning rate (seen: 1 of 1,152 k_proj elements off by 1.3e-5 at lr 1e-3). Everything
    # else must agree to float rounding; those few elements must stay well inside one learning-rate step.
    for name, value in one.items():
        off = ~torch.isclose(two[name], value, rtol=1e-4, atol=1e-5)
        assert off.float().mean() <= 0.005, f"{name}: {int(off.sum())} of {off.numel()} elements differ"
        assert (two[name] - value).abs().max() < 1e-4, name


# --- data and config errors -------------------------------------------------------------------------------


def test_prompt_plus_completion_strings_equal_message_lists():
    messages = {
        "chosen": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
        "rejected": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}],
    }
    strings = {"prompt": "2+2?", "chosen": "4", "rejected": "5"}
    assert preference_row(strings) == preference_row(messages)


def test_a_row_without_rejected_names_the_row_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n')
    cfg = load_run_config(
        str(
            write_config(
                tmp_path, tiny_dpo_config(tmp_path, data={"train_files": [str(bad)], "val_files": []})
            )
        )
    )
    with pytest.raises(DataError, match=r"bad.jsonl:1: no field 'rejected'"):
        build(cfg)


def test_bad_loss_type_fails_at_start(tmp_path, capsys):
    path = write_config(tmp_path, tiny_dpo_config(tmp_path))
    assert main(["fit", "--config", str(path), "dpo.loss_type=kto", "--print-config"]) == 2
    assert "dpo.loss_type" in capsys.readouterr().err
