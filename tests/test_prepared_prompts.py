"""RLVR prompts (GRPO, PPO) and their validation prompts in the prepared store: the same prompts, ground truths,
verifiers and order as the in-memory rows gave before the store, the same bad rows, found again by their key."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DEMO_DATA, REPO, TINY_MODEL, write_config
from tulu_lightning.chat import prompt_ids
from tulu_lightning.objectives import grpo
from tulu_lightning.objectives.rlvr import PromptDataModule, load_prompt_rows, prompt_recipe
from tulu_lightning.prepared import prepare
from tulu_lightning.schemas import RowErrors
from tulu_lightning.train import load_run_config

RLVR_MIXTURE = REPO / "tests" / "data" / "tulu3" / "rlvr_mixture.jsonl"
BAD_RLVR = REPO / "tests" / "data" / "tulu3" / "bad_rows" / "rlvr.jsonl"


def rlvr_config(tmp_path, data: dict, eval_: dict | None = None, **rlvr) -> dict:
    return {
        "objective": "grpo",
        "model": dict(TINY_MODEL),
        "data": {"prepared_dir": str(tmp_path / "stores"), **data},
        "trainer": {"output_dir": str(tmp_path / "run"), "micro_batch_size": 4, "accelerator": "cpu"},
        "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
        "rlvr": {"max_new_tokens": 16, **rlvr},
        "eval": {"enabled": True, "max_prompts": 50, **(eval_ or {})},
    }


def todays_prompts(cfg, tokenizer) -> tuple[list[dict], list[dict], dict]:
    """What `PromptDataModule` did before the store: every row in Python, `prompt_ids` row by row, the prompts
    that leave no room for the response dropped; the first `eval.max_prompts` validation rows."""
    train_rows, val_rows = load_prompt_rows(cfg)
    max_prompt = cfg.data.max_seq_length - cfg.rlvr.max_new_tokens
    splits, counts = [], {}
    for rows, prefix in ((train_rows, ""), (val_rows[: cfg.eval.max_prompts], "val_")):
        items = []
        for row in rows:
            ids = prompt_ids(tokenizer, row["messages"])
            if len(ids) <= max_prompt:
                items.append(
                    {
                        "prompt_ids": ids,
                        "ground_truth": row["ground_truth"],
                        "verifier": row["dataset"],
                        "where": row["where"],
                    }
                )
        counts[f"{prefix}dropped_prompts"] = len(rows) - len(items)
        splits.append(items)
    counts["train_prompts"] = len(splits[0])
    return splits[0], splits[1], {"val_rows": val_rows[: cfg.eval.max_prompts], **counts}


@pytest.mark.parametrize(
    "data, eval_",
    [
        (  # the demo's prompts (GSM8K and IFEval), held-out file; 60 tokens drop IFEval's and some GSM8K's
            {
                "train_files": [str(DEMO_DATA / "rlvr_train.jsonl")],
                "val_files": [str(DEMO_DATA / "rlvr_val.jsonl")],
                "max_seq_length": 76,
            },
            {"max_prompts": 150},
        ),
        (  # Tülu 3's RLVR mixture's schema (gsm8k, MATH, IFEval), validation carved out
            {
                "train_files": [str(RLVR_MIXTURE), str(DEMO_DATA / "rlvr_val.jsonl")],
                "val_fraction": 0.25,
                "shuffle_seed": 3,
                "max_train_samples": 150,
                "max_seq_length": 64,
            },
            {},
        ),
    ],
    ids=["demo-val-files", "tulu3-mixture-val-fraction"],
)
def test_store_prompts_are_the_in_memory_prompts(tmp_path, data, eval_):
    cfg = load_run_config(str(write_config(tmp_path, rlvr_config(tmp_path, data, eval_))))
    tokenizer = grpo.build_tokenizer(cfg)
    datamodule = PromptDataModule(cfg, tokenizer, grpo.prepare_data(cfg, tokenizer))
    datamodule.setup()
    train, val, counts = todays_prompts(cfg, tokenizer)

    assert list(datamodule.train_items) == train and datamodule.val_items == val
    assert datamodule.val_rows == counts.pop("val_rows")  # what generation accuracy scores
    assert datamodule.counts == counts
    assert counts["dropped_prompts"] > 0 and counts["val_dropped_prompts"] > 0  # the limit is exercised
    assert datamodule.train_items[1:3] == train[1:3]


def test_eval_off_serves_no_validation_prompts(tmp_path):
    data = {"train_files": [str(RLVR_MIXTURE)], "val_fraction": 0.25, "max_seq_length": 128}
    cfg = load_run_config(str(write_config(tmp_path, rlvr_config(tmp_path, data, {"enabled": False}))))
    tokenizer = grpo.build_tokenizer(cfg)
    datamodule = PromptDataModule(cfg, tokenizer, grpo.prepare_data(cfg, tokenizer))
    datamodule.setup()
    assert datamodule.val_items == [] and datamodule.val_rows == []
    assert datamodule.counts == {"dropped_prompts": 0, "train_prompts": 6}


def test_bad_prompt_rows_are_the_validators_and_nothing_is_stored(tmp_path):
    data = {"train_files": [str(BAD_RLVR)], "val_fraction": 0.0}
    cfg = load_run_config(str(write_config(tmp_path, rlvr_config(tmp_path, data))))
    from tulu_lightning.data import load_train_val
    from tulu_lightning.objectives.rlvr import prompt_schema
    from tulu_lightning.schemas import validate_splits

    with pytest.raises(RowErrors) as expected:
        validate_splits([(load_train_val(cfg.data)[0], prompt_schema(cfg))])
    tokenizer = grpo.build_tokenizer(
        load_run_config(
            str(write_config(tmp_path, rlvr_config(tmp_path, {"train_files": [str(RLVR_MIXTURE)]})))
        )
    )
    with pytest.raises(RowErrors) as err:
        grpo.prepare_data(cfg, tokenizer)
    assert err.value.problems == expected.value.problems and len(err.value.problems) >= 8
    assert all(p.startswith(f"{BAD_RLVR}:") for p in err.value.problems)
    assert not [p for p in (tmp_path / "stores").iterdir() if not p.name.startswith(".")]


def test_prompt_key_follows_the_room_for_the_response_and_the_default_verifier(tmp_path):
    data = {"train_files": [str(RLVR_MIXTURE)], "max_seq_length": 128}
    cfg = load_run_config(str(write_config(tmp_path, rlvr_config(tmp_path, data))))
    tokenizer = grpo.build_tokenizer(cfg)
    first = grpo.prepare_data(cfg, tokenizer)
    assert first.prepared_here and not grpo.prepare_data(cfg, tokenizer).prepared_here
    assert prompt_recipe(cfg).max_length == 128 - 16
    cfg.rlvr.max_new_tokens = 32
    assert grpo.prepare_data(cfg, tokenizer).directory != first.directory
    cfg.rlvr.max_new_tokens, cfg.rlvr.default_verifier = 16, "math"
    assert grpo.prepare_data(cfg, tokenizer).directory != first.directory
    cfg.rlvr.default_verifier = "GSM8K"  # the same verifier by another name: the same store
    assert grpo.prepare_data(cfg, tokenizer).directory == first.directory
    assert (
        prepare(cfg.data, prompt_recipe(cfg), tokenizer, cfg.data.prepared_dir).directory == first.directory
    )


@pytest.mark.parametrize("objective", ["grpo", "ppo"])
def test_prepare_command_prepares_rlvr_prompts_that_fit_finds(tmp_path, capsys, objective):
    from tulu_lightning.cli import main
    from tulu_lightning.train import build_objective

    cfg = rlvr_config(tmp_path, {"train_files": [str(RLVR_MIXTURE)], "val_fraction": 0.25})
    cfg["objective"] = objective
    config = str(write_config(tmp_path, cfg))
    assert main(["prepare", "--config", config]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"prepared: {tmp_path / 'stores'}/prompt-") and "6 training and 2 validation" in out
    assert main(["prepare", "--config", config]) == 0
    assert capsys.readouterr().out.startswith("found: ")
    _, datamodule = build_objective(load_run_config(config))
    assert (
        not datamodule.store.prepared_here
        and json.loads((datamodule.store.directory / "meta.json").read_text())["train_prompts"] == 6
    )
