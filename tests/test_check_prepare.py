"""`check` validates through `prepare`'s own code path: on the same data both report the same bad rows, line for
line, and count the same rows; `check` loads no tokenizer and stores nothing."""

from __future__ import annotations

import pytest

from tests.conftest import REPO, tiny_config, write_config
from tulu_lightning.cli import main
from tulu_lightning.models import train_tiny_tokenizer
from tulu_lightning.prepared import UNITS, open_store

FIXTURES = REPO / "tests" / "data" / "tulu3"
CASES = {  # objective: (bad rows, good rows)
    "sft": ("bad_rows/sft.jsonl", "sft_mixture.jsonl"),
    "dpo": ("bad_rows/preference.jsonl", "preference_mixture.jsonl"),
    "reward_model": ("bad_rows/preference.jsonl", "preference_prompt_answer.jsonl"),
    "grpo": ("bad_rows/rlvr.jsonl", "rlvr_mixture.jsonl"),
    "ppo": ("bad_rows/rlvr.jsonl", "rlvr_mixture.jsonl"),
}


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    """A saved tokenizer, so `prepare` goes straight to the store (a tiny model's would first be trained on the
    rows read in memory)."""
    texts = [line for path in FIXTURES.glob("*.jsonl") for line in path.read_text().splitlines()]
    directory = tmp_path_factory.mktemp("tokenizer")
    train_tiny_tokenizer(texts, vocab_size=320).save_pretrained(directory)
    return directory


def config(tmp_path, objective: str, data_file: str, tokenizer_dir) -> str:
    dataset = {"sft": "sft", "grpo": "rlvr", "ppo": "rlvr"}.get(objective, "preference")
    cfg = tiny_config(tmp_path, objective, dataset)
    cfg["model"]["tokenizer"] = str(tokenizer_dir)
    cfg["data"] = {
        "train_files": [str(FIXTURES / data_file)],
        "val_fraction": 0.25,
        "max_seq_length": 128,
        "prepared_dir": str(tmp_path / "stores"),
    }
    if dataset == "rlvr":
        cfg["rlvr"] = {"max_new_tokens": 16}
    return str(write_config(tmp_path, cfg))


@pytest.mark.parametrize("objective", sorted(CASES))
def test_check_and_prepare_report_the_same_bad_rows(tmp_path, capsys, monkeypatch, objective, tokenizer_dir):
    path = config(tmp_path, objective, CASES[objective][0], tokenizer_dir)
    assert main(["prepare", "--config", path]) == 2
    prepared_out, prepared_err = capsys.readouterr()
    import transformers

    def no_tokenizer(*args, **kwargs):
        raise AssertionError("check loaded a tokenizer")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", no_tokenizer)
    assert main(["check", "--config", path]) == 2
    checked_out, checked_err = capsys.readouterr()
    assert checked_out == prepared_out and checked_err == prepared_err
    assert len(checked_out.splitlines()) >= 8
    assert all(
        line.startswith(str(FIXTURES / CASES[objective][0]) + ":") for line in checked_out.splitlines()
    )
    assert [p.name for p in (tmp_path / "stores").iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.parametrize("objective", sorted(CASES))
def test_check_counts_the_rows_prepare_stores(tmp_path, capsys, objective, tokenizer_dir):
    path = config(tmp_path, objective, CASES[objective][1], tokenizer_dir)
    assert main(["check", "--config", path]) == 0
    checked = capsys.readouterr().out
    assert [p.name for p in (tmp_path / "stores").iterdir()] == []  # nothing stored, no scratch left
    assert main(["prepare", "--config", path]) == 0
    (directory,) = [p for p in (tmp_path / "stores").iterdir() if not p.name.startswith(".")]
    store = open_store(directory)
    unit = UNITS[directory.name.split("-")[0]]
    train = len(store.train) + store.counts[f"dropped_{unit}"]  # the rows validated, before the length limit
    assert checked.startswith(f"ok: {train} training and {len(store.val_rows())} validation rows (")
