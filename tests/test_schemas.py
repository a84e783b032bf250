"""Rows of the published Tülu 3 datasets: fixtures written by hand in each dataset card's schema load unchanged
(JSONL, Parquet, and through `datasets`); a corpus of hand-broken rows is reported row by row, with file and line,
before any model is built, in well under a second."""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, tiny_config, write_config
from tulu_lightning.cli import main
from tulu_lightning.config import ConfigError, DataConfig
from tulu_lightning.data import DataError, Row, load_train_val, read_file_rows, read_hub_rows
from tulu_lightning.files import read_jsonl
from tulu_lightning.schemas import RowErrors, Schema, normalise_rows, preference_row, validate_splits

FIXTURES = REPO / "tests" / "data" / "tulu3"
BAD = FIXTURES / "bad_rows"


def load(name: str, schema: Schema) -> list[dict]:
    return validate_splits([(read_file_rows(FIXTURES / name), schema)])[0]


# --- the published schemas ------------------------------------------------------------------------------


def test_sft_mixture_rows_keep_system_and_every_turn():
    rows = load("sft_mixture.jsonl", Schema("sft"))
    raw = read_jsonl(FIXTURES / "sft_mixture.jsonl")
    assert len(rows) == len(raw) == 8
    for row, original in zip(rows, raw):
        assert row["messages"] == [{"role": m["role"], "content": m["content"]} for m in original["messages"]]
    assert rows[2]["messages"][0]["role"] == "system"
    assert [m["role"] for m in rows[0]["messages"]] == ["user", "assistant", "user", "assistant"]
    assert rows[4]["where"] == f"{FIXTURES / 'sft_mixture.jsonl'}:5"


def test_preference_mixture_pairs_hold_the_user_turn_once():
    rows = load("preference_mixture.jsonl", Schema("preference"))
    raw = read_jsonl(FIXTURES / "preference_mixture.jsonl")
    for row, original in zip(rows, raw):
        for side in ("chosen", "rejected"):
            assert row[side] == original[side]  # the whole conversation, the prompt not prepended again
            assert (
                sum(turn["content"] == original["prompt"] for turn in row[side] if turn["role"] == "user")
                == 1
            )
    assert [m["role"] for m in rows[5]["chosen"]] == ["user", "assistant", "user", "assistant"]


def test_older_prompt_plus_answer_form_becomes_whole_conversations():
    rows = load("preference_prompt_answer.jsonl", Schema("preference"))
    assert rows[0]["chosen"] == [
        {"role": "user", "content": "What is 7 times 6?"},
        {"role": "assistant", "content": "7 times 6 is 42."},
    ]
    assert [m["role"] for m in rows[1]["rejected"]] == ["system", "user", "assistant"]
    full = {
        "chosen": rows[2]["chosen"],
        "rejected": rows[2]["rejected"],
        "prompt": "ignored when sides are whole",
    }
    assert preference_row(full) == {"chosen": rows[2]["chosen"], "rejected": rows[2]["rejected"]}


def test_rlvr_mixture_verifiers_any_case_and_ground_truths_as_text():
    rows = load("rlvr_mixture.jsonl", Schema("prompt"))
    raw = read_jsonl(FIXTURES / "rlvr_mixture.jsonl")
    assert {r["dataset"] for r in raw} == {"gsm8k", "MATH", "ifeval"}
    assert [row["dataset"] for row in rows] == [r["dataset"].lower() for r in raw]
    assert [row["ground_truth"] for row in rows] == [r["ground_truth"] for r in raw]
    assert all(set(row) == {"messages", "ground_truth", "dataset", "where"} for row in rows)


def test_parquet_and_datasets_give_the_rows_of_the_jsonl(tmp_path):
    jsonl = FIXTURES / "rlvr_mixture.jsonl"
    raw = read_jsonl(jsonl)
    (tmp_path / "hub").mkdir()
    parquet = tmp_path / "hub" / "train-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(raw), parquet)
    from_parquet = read_file_rows(parquet)
    assert [row.fields for row in from_parquet] == raw
    assert [row.where for row in from_parquet] == [f"{parquet}:{n}" for n in range(1, len(raw) + 1)]
    # a hub name goes through `datasets` (here a local dataset directory, as no hub is reachable)
    from_hub = read_hub_rows(str(tmp_path / "hub"), "train")
    assert [row.fields for row in from_hub] == raw and from_hub[2].where == f"{tmp_path / 'hub'}[train]:3"
    schema = Schema("prompt")
    strip = lambda rows: [{k: v for k, v in row.items() if k != "where"} for row in rows]  # noqa: E731
    expected = strip(validate_splits([(read_file_rows(jsonl), schema)])[0])
    assert strip(validate_splits([(from_parquet, schema)])[0]) == expected
    assert strip(validate_splits([(from_hub, schema)])[0]) == expected
    with pytest.raises(DataError, match=r"data\.hub_dataset: cannot load .* split 'test'"):
        read_hub_rows(str(tmp_path / "hub"), "test")


def test_a_held_out_split_keeps_each_row_file_and_line():
    data = DataConfig(train_files=[str(FIXTURES / "sft_mixture.jsonl")], val_fraction=0.25, shuffle_seed=1)
    train, val = load_train_val(data)
    assert len(train) == 6 and len(val) == 2
    for row in train + val:
        assert read_jsonl(FIXTURES / "sft_mixture.jsonl")[row.number - 1] == row.fields


# --- bad rows ---------------------------------------------------------------------------------------------

# (file, line) -> what the report must say
EXPECTED = {
    ("sft", 2): "no field 'messages'",
    ("sft", 3): "'messages' must be a list of messages, got str",
    ("sft", 4): "'messages' has no messages",
    ("sft", 5): "messages[1] is a tool-calling turn ('tool_calls' in a 'assistant' turn)",
    ("sft", 6): "messages[1] (assistant) content must be a string, got null",
    ("sft", 7): "messages[1] (assistant) has no 'content'",
    ("sft", 8): "messages[1] has unknown role 'robot'",
    ("sft", 9): "messages[0] (user) content must be a string, got list",
    ("sft", 10): "no assistant turn",
    ("sft", 11): "messages[1] must be a {'role', 'content'} object, got str",
    ("sft", 12): "messages[0] has no 'role'",
    ("sft", 13): "messages[1] is a tool-calling turn (role 'function')",
    ("preference", 2): "no field 'rejected'",
    ("preference", 3): "'chosen' holds only the answer, so the row needs a 'prompt'",
    ("preference", 4): "'chosen' and 'rejected' differ before their last turn",
    ("preference", 5): "'chosen' must end with an assistant turn, not a user turn",
    ("preference", 6): "'prompt' must be a string or a list of messages, got int",
    ("preference", 7): "chosen[1] (assistant) content must be a string, got null",
    ("preference", 8): "'chosen' must be a list of messages, got int",
    ("preference", 9): "chosen[2] is a tool-calling turn (role 'tool')",
    ("rlvr", 2): "unknown verifier 'gsm9k' in 'dataset'",
    ("rlvr", 3): "no field 'ground_truth'",
    ("rlvr", 4): "'ground_truth' is null",
    ("rlvr", 5): "ground truth does not parse for verifier 'ifeval'",
    ("rlvr", 6): 'unknown func_name "validate_everything"',
    ("rlvr", 7): "'messages' must end with a user turn",
    ("rlvr", 8): "'dataset' must name a verifier, got int",
    ("rlvr", 11): "messages[1] is a tool-calling turn (role 'tool')",
}
KINDS = {"sft": "sft", "preference": "preference", "rlvr": "prompt"}


def test_every_bad_row_is_reported_with_its_file_and_line_in_under_a_second():
    splits = [(read_file_rows(BAD / f"{name}.jsonl"), Schema(kind)) for name, kind in KINDS.items()]
    started = time.perf_counter()
    with pytest.raises(RowErrors) as caught:
        validate_splits(splits)
    elapsed = time.perf_counter() - started
    problems = caught.value.problems
    assert len(problems) == len(EXPECTED)
    reported = {}
    for problem in problems:
        where, _, message = problem.partition(": ")
        path, _, line = where.rpartition(":")
        reported[(path.rsplit("/", 1)[-1].removesuffix(".jsonl"), int(line))] = message
    assert list(reported) == sorted(EXPECTED, key=lambda key: (list(KINDS).index(key[0]), key[1]))
    for key, fragment in EXPECTED.items():
        assert fragment in reported[key], (key, reported[key])
    assert elapsed < 1.0, f"{elapsed:.3f} s"
    # one line for the CLI: the count, the first problems, and where to see the rest
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{len(EXPECTED)} bad rows: {BAD / 'sft.jsonl'}:2: ")
    assert "python -m tulu_lightning check" in message


def test_good_rows_among_bad_ones_are_kept():
    good, problems = normalise_rows(read_file_rows(BAD / "rlvr.jsonl"), Schema("prompt"))
    assert [row["where"].rsplit(":", 1)[1] for row in good] == ["1", "9", "10"]
    assert [row["dataset"] for row in good] == ["gsm8k", "math", "ifeval"]
    assert len(problems) == 8


def test_check_lists_every_bad_row_and_builds_no_model(tmp_path, capsys, monkeypatch):
    import tulu_lightning.models as models

    def no_model(*args, **kwargs):
        raise AssertionError("a model was built before the rows were checked")

    monkeypatch.setattr(models, "load_causal_lm", no_model)
    monkeypatch.setattr(models, "train_tiny_tokenizer", no_model)
    cfg = tiny_config(tmp_path, "sft", "sft", data={"train_files": [str(BAD / "sft.jsonl")], "val_files": []})
    path = write_config(tmp_path, cfg)
    assert main(["check", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [
        f"{BAD / 'sft.jsonl'}:{n}" for name, n in EXPECTED if name == "sft"
    ]
    assert "error: 12 bad rows" in err
    assert main(["fit", "--check-data", "--config", str(path)]) == 2  # the same check, then exit
    # fit itself stops at the rows too, before any tokenizer or model
    from tulu_lightning.train import build_objective, load_run_config

    with pytest.raises(RowErrors, match=r"12 bad rows: .*sft.jsonl:2: no field 'messages'"):
        build_objective(load_run_config(str(path)))


def test_check_passes_the_published_fixtures(tmp_path, capsys):
    for objective, name in [("sft", "sft_mixture"), ("dpo", "preference_mixture"), ("grpo", "rlvr_mixture")]:
        cfg = tiny_config(tmp_path, objective, "sft", data={"train_files": [str(FIXTURES / f"{name}.jsonl")]})
        cfg["data"]["val_files"] = []
        assert main(["check", "--config", str(write_config(tmp_path, cfg))]) == 0
        assert capsys.readouterr().out.startswith("ok: ")


def test_validation_rows_need_ground_truths_when_generation_eval_is_on(tmp_path):
    cfg = tiny_config(tmp_path, "sft", "sft", eval={"enabled": True, "verifier": "GSM8K"})
    cfg["data"]["val_files"] = [str(FIXTURES / "sft_mixture.jsonl")]  # SFT rows carry no ground truth
    from tulu_lightning.objectives.sft import load_data
    from tulu_lightning.train import load_run_config

    with pytest.raises(RowErrors, match=r"8 bad rows: .*sft_mixture.jsonl:1: no field 'ground_truth'"):
        load_data(load_run_config(str(write_config(tmp_path, cfg))))
    cfg["eval"]["verifier"] = "gsm9k"
    with pytest.raises(ConfigError, match=r"eval\.verifier: unknown verifier 'gsm9k'"):
        load_data(load_run_config(str(write_config(tmp_path, cfg))))


def test_ground_truths_of_every_type_reach_the_verifier_as_text():
    rows = [
        Row("f.jsonl", 1, {"messages": [{"role": "user", "content": "1+1?"}], "ground_truth": 2}),
        Row(
            "f.jsonl",
            2,
            {
                "messages": [{"role": "user", "content": "x"}],
                "ground_truth": ["a", "b"],
                "dataset": "string_f1",
            },
        ),
    ]
    good = validate_splits([(rows, Schema("prompt"))])[0]
    assert [row["ground_truth"] for row in good] == ["2", json.dumps(["a", "b"])]
