"""The Tülu 3 recipe stage by stage on fixtures in the published datasets' schemas, with the tiny model: SFT, DPO,
the reward model, PPO, GRPO (2 optimizer steps each) and eval. The SFT stage here adds BOS, and every later stage,
started from its export, reads that from the saved chat template (the BOS round trip). PPO's policy and value
model have their own optimizers and gradient clips: a huge value loss leaves the policy's update unchanged."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import REPO, tiny_config, write_config
from tulu_lightning.chat import BOS_PREFIX
from tulu_lightning.cli import main
from tulu_lightning.config import ConfigError
from tulu_lightning.files import read_jsonl
from tulu_lightning.objectives.preference import PairItems, pairs_recipe
from tulu_lightning.prepared import prepare
from tulu_lightning.rollout import Completion
from tulu_lightning.train import build_objective, fit, load_run_config

FIXTURES = REPO / "tests" / "data" / "tulu3"
PAIRS = [str(FIXTURES / "preference_mixture.jsonl"), str(FIXTURES / "preference_prompt_answer.jsonl")]
PROMPTS = [str(FIXTURES / "rlvr_mixture.jsonl")]


def stage_config(tmp_path, objective: str, files: list[str], **sections) -> dict:
    """Two optimizer steps of `objective` on `files`, tiny model, no tracking."""
    cfg = tiny_config(
        tmp_path,
        objective,
        "sft",
        data={"train_files": files, "val_files": [], "max_seq_length": 512},
        optim={"warmup_steps": 0},
        trainer={"max_steps": 2, "max_epochs": 10, "micro_batch_size": 2, "val_check_interval": 1.0},
        tracking={"enabled": False},
    )
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    return cfg


def run_stage(tmp_path, name: str, cfg: dict):
    path = write_config(tmp_path, cfg, f"{name}.yaml")
    return fit(load_run_config(str(path)))


def rlvr_sections(model_dir, **rlvr) -> dict:
    return {
        "model": {"name_or_path": str(model_dir), "tiny": None},
        "trainer": {"max_steps": 2, "micro_batch_size": 8},  # every prompt in each rollout batch
        "rlvr": {"max_new_tokens": 8, "temperature": 1.0, "update_epochs": 1, "num_minibatches": 1, **rlvr},
    }


@pytest.fixture(scope="module")
def sft(tmp_path_factory):
    """SFT on the tulu-3-sft-mixture fixture, with BOS, exported (what the later stages start from)."""
    tmp = tmp_path_factory.mktemp("sft")
    cfg = stage_config(tmp, "sft", [str(FIXTURES / "sft_mixture.jsonl")], model={"add_bos": True})
    cfg["sft"] = {"packing": True}
    return run_stage(tmp, "sft", cfg)


def test_sft_stage_trains_on_the_sft_mixture_and_records_bos_in_the_export(sft):
    assert sft.module.trainer.global_step == 2
    tokenizer = sft.module.tokenizer
    examples = [
        example["input_ids"].tolist() for row in sft.module.trainer.datamodule.train_items for example in row
    ]
    assert len(examples) == 8
    assert all(
        ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1 for ids in examples
    )
    saved = (
        json.loads((sft.hf_dir / "tokenizer_config.json").read_text()).get("chat_template")
        or (sft.hf_dir / "chat_template.jinja").read_text()
    )
    assert saved.startswith(BOS_PREFIX)


def test_dpo_stage_pairs_hold_the_user_turn_once_and_inherit_bos(sft, tmp_path):
    sections = {"model": {"name_or_path": str(sft.hf_dir), "tiny": None}}
    dpo = {"reference": "live", "loss_type": "dpo_norm"}
    result = run_stage(tmp_path, "dpo", stage_config(tmp_path, "dpo", PAIRS, dpo=dpo, **sections))
    assert result.module.trainer.global_step == 2
    tokenizer = result.module.tokenizer
    items = result.module.trainer.datamodule.train_items
    raw = [row for path in PAIRS for row in read_jsonl(path)]
    assert len(items) == len(raw) == 9
    for item, row in zip(items, raw):
        for side in ("chosen", "rejected"):
            ids = item[side]["input_ids"].tolist()
            text = tokenizer.decode(ids, skip_special_tokens=False)
            prompt = row["prompt"] if isinstance(row["prompt"], str) else row["prompt"][-1]["content"]
            assert text.count(f"<|user|>\n{prompt}\n") == 1, text
            assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1

    # the template's BOS is kept when a later stage names the template, and dropped only on request
    for model, expected in [({"chat_template": "tulu"}, True), ({"add_bos": False}, False)]:
        cfg = stage_config(tmp_path, "dpo", PAIRS, dpo=dpo, model={**sections["model"], **model})
        _, datamodule = build_objective(load_run_config(str(write_config(tmp_path, cfg, "again.yaml"))))
        datamodule.setup()
        first = int(datamodule.train_items[0]["chosen"]["input_ids"][0])
        assert (first == datamodule.tokenizer.bos_token_id) is expected


def test_reward_model_stage_scores_every_pair_at_its_eos(sft, tmp_path):
    sections = {"model": {"name_or_path": str(sft.hf_dir), "tiny": None}}
    result = run_stage(tmp_path, "rm", stage_config(tmp_path, "reward_model", PAIRS, **sections))
    assert result.module.trainer.global_step == 2
    datamodule = result.module.trainer.datamodule
    eos = datamodule.tokenizer.eos_token_id
    # pairs longer than the limit are dropped, never cut: every kept sequence still ends with EOS
    longest = max(
        len(item[side]["input_ids"]) for item in datamodule.train_items for side in ("chosen", "rejected")
    )
    shorter = replace(pairs_recipe(datamodule.cfg, last_turn_only=False), max_length=longest - 1)
    data = replace(datamodule.cfg.data, max_seq_length=longest - 1)
    store = prepare(data, shorter, datamodule.tokenizer, datamodule.cfg.data.prepared_dir)
    kept = PairItems(store.train)
    assert store.counts["over_long_pairs"] >= 1
    assert len(kept) == len(datamodule.train_items) - store.counts["dropped_pairs"] < 9
    for item in [*datamodule.train_items, *kept]:
        assert item["chosen"]["input_ids"][-1] == eos and item["rejected"]["input_ids"][-1] == eos
    bad = stage_config(tmp_path, "reward_model", PAIRS, data={"keep_truncated": True}, **sections)
    with pytest.raises(ConfigError, match=r"data\.keep_truncated"):
        load_run_config(str(write_config(tmp_path, bad, "bad.yaml")))


class HalfRight:
    """A rollout backend that answers every other sample of a prompt with its row's ground truth and the rest
    with a wrong answer, so GRPO's GSM8K and MATH groups always carry a signal (a tiny random model's samples
    are all wrong alike, and such groups are dropped)."""

    def __init__(self, model, tokenizer, batch_size: int = 64):
        self.tokenizer = tokenizer
        self.rows = read_jsonl(PROMPTS[0])

    def generate(self, prompts, params):
        completions = []
        for index, ids in enumerate(prompts):
            prompt = self.tokenizer.decode(ids, skip_special_tokens=True)
            truth = next(r["ground_truth"] for r in self.rows if r["messages"][0]["content"] in prompt)
            for sample in range(params.n):
                text = f"So the answer is \\boxed{{{truth}}}." if sample % 2 == 0 else "I give up: 12345."
                tokens = [
                    *self.tokenizer(text, add_special_tokens=False)["input_ids"],
                    self.tokenizer.eos_token_id,
                ]
                completions.append(Completion(index, tokens, text, [0.0] * len(tokens), "stop"))
        return completions


def check_rlvr_stage(result) -> None:
    assert result.module.trainer.global_step == 2  # 2 rollout batches, one optimizer step each
    datamodule = result.module.trainer.datamodule
    bos = datamodule.tokenizer.bos_token_id
    assert {p["verifier"] for p in datamodule.train_items} == {"gsm8k", "math", "ifeval"}
    assert all(p["prompt_ids"][0] == bos and p["prompt_ids"].count(bos) == 1 for p in datamodule.train_items)


def test_ppo_stage_on_the_rlvr_mixture_inherits_bos(sft, tmp_path):
    cfg = stage_config(tmp_path, "ppo", PROMPTS, **rlvr_sections(sft.hf_dir, samples_per_prompt=1))
    cfg["optim"]["schedule_steps"] = 100  # the LR decays over 100 steps, not over the 2 this run makes
    result = run_stage(tmp_path, "ppo", cfg)
    check_rlvr_stage(result)
    assert result.metrics["train/lr"] == pytest.approx(1e-3 * (1 - 1 / 100))  # the second step's LR
    assert result.metrics["train/value_lr"] == pytest.approx(1e-3 * (1 - 1 / 100))


def test_grpo_stage_on_the_rlvr_mixture_inherits_bos(sft, tmp_path, monkeypatch):
    monkeypatch.setattr("tulu_lightning.objectives.rlvr.HFRollout", HalfRight)
    cfg = stage_config(tmp_path, "grpo", PROMPTS, **rlvr_sections(sft.hf_dir, samples_per_prompt=2))
    result = run_stage(tmp_path, "grpo", cfg)
    check_rlvr_stage(result)
    assert result.metrics["train/groups_kept_frac"] >= 0.5  # the GSM8K and MATH groups
    assert result.metrics["train/reward/gsm8k"] == result.metrics["train/reward/math"] == 0.5


def test_a_huge_value_loss_does_not_change_the_policy_update(tmp_path):
    """Two PPO runs from the same start differ only in the value loss's weight (0.1 vs 1e6): with one optimizer
    and one clip the huge value gradient would shrink the policy's step; with two, the policy's step is the same."""
    policies, values, stats = [], [], []
    for coef in (0.1, 1.0e6):
        tmp = tmp_path / f"coef{coef:g}"
        tmp.mkdir()
        cfg = stage_config(
            tmp,
            "ppo",
            PROMPTS,
            trainer={"max_steps": 1, "micro_batch_size": 4},
            rlvr={"max_new_tokens": 8, "samples_per_prompt": 1, "update_epochs": 1, "num_minibatches": 1},
            ppo={"value_loss_coef": coef, "value_lr": 2.0e-3},
        )
        result = run_stage(tmp, "ppo", cfg)
        policies.append(load_file(result.hf_dir / "model.safetensors"))
        values.append({k: v.clone() for k, v in result.module.value_model.state_dict().items()})
        stats.append({k: float(v) for k, v in result.module.trainer.callback_metrics.items()})
        assert result.module.trainer.global_step == 1
        lrs = (stats[-1]["train/lr"], stats[-1]["train/value_lr"])
        assert lrs == pytest.approx((1.0e-3, 2.0e-3))  # optim.lr, ppo.value_lr
    start = build_objective(load_run_config(str(tmp_path / "coef0.1" / "ppo.yaml")))[0].model.state_dict()
    assert any(not torch.equal(v, start[k]) for k, v in policies[0].items()), "the policy did not move"
    for name, weight in policies[0].items():
        assert torch.equal(policies[1][name], weight), name
    assert any(not torch.equal(values[0][k], values[1][k]) for k in values[0])
    assert stats[1]["train/value_grad_norm"] > 1e4 * stats[0]["train/value_grad_norm"]
    assert stats[1]["train/grad_norm"] == stats[0]["train/grad_norm"]


CONFIG_DATA = {
    "sft_8b": "sft_mixture",
    "dpo_8b": "preference_mixture",
    "rm_8b": "preference_mixture",
    "rlvr_ppo_8b": "rlvr_mixture",
    "rlvr_grpo_8b": "rlvr_mixture",
}


@pytest.mark.parametrize("name", sorted(CONFIG_DATA))
def test_tulu3_configs_check_the_published_schemas_and_cite_open_instruct(name, capsys):
    path = REPO / "configs" / "tulu3" / f"{name}.yaml"
    text = path.read_text()
    assert "open-instruct" in text and "@" in text  # settings name the open-instruct file@commit they follow
    fixture = FIXTURES / f"{CONFIG_DATA[name]}.jsonl"
    overrides = [f"data.train_files=[{fixture}]", "model.name_or_path=null", "model.tiny={}"]
    if name.startswith("rlvr"):
        overrides.append("rlvr.backend=hf")
    assert main(["check", "--config", str(path), *overrides]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_tulu3_configs_settle_the_departures_as_open_instruct():
    def cfg(name):
        return load_run_config(str(REPO / "configs" / "tulu3" / f"{name}.yaml"))

    sft, dpo, rm, ppo = cfg("sft_8b"), cfg("dpo_8b"), cfg("rm_8b"), cfg("rlvr_ppo_8b")
    assert sft.model.add_bos is False and sft.data.keep_truncated and dpo.data.keep_truncated
    assert (
        dpo.model.add_bos is None and rm.model.add_bos is None and ppo.model.add_bos is None
    )  # read from SFT
    assert not rm.data.keep_truncated and (rm.optim.eps, rm.optim.weight_decay) == (1e-5, 0.01)
    assert ppo.optim.schedule_steps == 10_000_000 // 224 * 4 and ppo.trainer.max_steps == 1784
    assert (ppo.optim.eps, ppo.optim.weight_decay, ppo.optim.max_grad_norm) == (1e-8, 0.01, 1.0)
    assert ppo.ppo.value_lr is None  # the value engine ran at the policy's LR
