"""The prepared-data store: the same examples as tokenizing row by row, found again by its key (nothing is
tokenized twice), prepared again when what the tokens depend on changes, never left half-written, every bad row
reported by file and line, and written by rank 0 alone."""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import pickle
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tests.conftest import DEMO_DATA, REPO
from tulu_lightning import prepared
from tulu_lightning.chat import LengthLimit, tokenize_chat
from tulu_lightning.config import DataConfig
from tulu_lightning.data import IGNORE_INDEX, DataError, PackedRows, collate_packed, load_train_val, pack_rows
from tulu_lightning.models import train_tiny_tokenizer
from tulu_lightning.prepared import Recipe, prepare
from tulu_lightning.schemas import RowErrors, Schema, row_texts, validate_splits

SFT_MIXTURE = REPO / "tests" / "data" / "tulu3" / "sft_mixture.jsonl"


@pytest.fixture(scope="module")
def tokenizer():
    rows = [json.loads(line) for line in (DEMO_DATA / "sft_train.jsonl").read_text().splitlines()]
    return train_tiny_tokenizer(row_texts(rows), vocab_size=320)


def today(data: DataConfig, recipe: Recipe, tokenizer) -> tuple[list, list, dict]:
    """What the SFT data module did before the store: rows in Python, `tokenize_chat` row by row."""
    train_rows, val_rows = load_train_val(data)
    train_rows, val_rows = validate_splits([(train_rows, Schema("sft")), (val_rows, Schema("sft"))])
    splits, counts = [], {}
    for rows, prefix in ((train_rows, ""), (val_rows, "val_")):
        limit = LengthLimit(recipe.max_length, recipe.keep_truncated)
        examples = []
        for row in rows:
            fitted = limit.fit(tokenize_chat(tokenizer, row["messages"], recipe.last_turn_only))
            if fitted is not None and fitted[0].num_trained_tokens:
                examples.append(fitted[0])
        counts[f"{prefix}over_long_examples"] = limit.over_long
        counts[f"{prefix}dropped_examples"] = len(rows) - len(examples)
        splits.append(examples)
    return splits[0], splits[1], counts


def as_lists(examples) -> list[tuple[list, list]]:
    return [(examples[i]["input_ids"].tolist(), examples[i]["labels"].tolist()) for i in range(len(examples))]


@pytest.mark.parametrize(
    "data, recipe",
    [
        (
            DataConfig(
                train_files=[str(DEMO_DATA / "sft_train.jsonl")], val_files=[str(DEMO_DATA / "sft_val.jsonl")]
            ),
            Recipe("sft", max_length=96, keep_truncated=False),
        ),
        (
            DataConfig(train_files=[str(DEMO_DATA / "sft_train.jsonl")], val_fraction=0.1, shuffle_seed=3),
            Recipe("sft", max_length=64, keep_truncated=True, last_turn_only=True),
        ),
        (
            DataConfig(
                train_files=[str(SFT_MIXTURE), str(DEMO_DATA / "sft_val.jsonl")], max_train_samples=50
            ),
            Recipe("sft", max_length=80, keep_truncated=False),
        ),
    ],
    ids=["val-files", "val-fraction-cut", "two-files-first-50"],
)
def test_store_holds_what_row_by_row_tokenization_gave(tmp_path, tokenizer, data, recipe):
    store = prepare(data, recipe, tokenizer, tmp_path)
    train, val, counts = today(data, recipe, tokenizer)
    assert counts["over_long_examples"] > 0  # the limit matters in every case
    assert store.counts == counts
    assert as_lists(store.train) == [(e.input_ids, e.labels) for e in train]
    assert as_lists(store.val) == [(e.input_ids, e.labels) for e in val]
    assert len(store.val_rows()) == len(load_train_val(data)[1])
    assert store.train.lengths.tolist() == [len(e.input_ids) for e in train]


def test_examples_are_read_as_datasets_reads_them(tmp_path, tokenizer):
    """Each example's tokens are read at their byte offsets in the Arrow files: what `datasets` reads there."""
    import datasets

    data = DataConfig(train_files=[str(DEMO_DATA / "sft_val.jsonl")])
    store = prepare(data, Recipe("sft", 128, False), tokenizer, tmp_path)
    table = datasets.load_from_disk(str(store.directory / "train"))
    assert as_lists(store.train) == list(zip(table["input_ids"], table["labels"]))
    assert store.train.lengths.tolist() == table["length"]


def test_packed_batches_are_the_ones_lists_gave(tmp_path, tokenizer):
    """Packing the lengths column and collating memory-mapped views gives the batches the lists did."""
    data = DataConfig(train_files=[str(DEMO_DATA / "sft_train.jsonl")])
    store = prepare(data, Recipe("sft", max_length=128, keep_truncated=False), tokenizer, tmp_path)
    train = store.train
    indices, offsets = pack_rows(train.lengths, 128)
    rows = [[train[int(i)] for i in indices[offsets[r] : offsets[r + 1]]] for r in range(len(offsets) - 1)]
    assert sum(len(row) for row in rows) == len(train) and all(
        sum(len(e["input_ids"]) for e in r) <= 128 for r in rows
    )
    listed = [[{k: v.tolist() for k, v in e.items()} for e in row] for row in rows[:16]]
    # DataLoader workers get the rows pickled: the store travels as its directory, not its contents
    packed = PackedRows(train, indices, offsets)
    shipped = pickle.dumps(packed)
    assert len(shipped) < 20_000 + 12 * len(train)
    assert [[e["input_ids"].tolist() for e in row] for row in pickle.loads(shipped)[:16]] == [
        [e["input_ids"] for e in row] for row in listed
    ]
    batch = collate_packed(rows[:16], tokenizer.pad_token_id)
    expected = reference_collate(listed, tokenizer.pad_token_id)
    for key in ("input_ids", "targets", "position_ids"):
        assert torch.equal(batch[key], expected[key]), key


def reference_collate(rows: list[list[dict]], pad: int) -> dict:
    """collate_packed as it was on Python lists (before the store)."""
    row_inputs, row_targets, row_positions = [], [], []
    for examples in rows:
        inputs, targets, positions = [], [], []
        for example in examples:
            inputs += example["input_ids"]
            targets += [*example["labels"][1:], IGNORE_INDEX]
            positions += range(len(example["input_ids"]))
        row_inputs.append(inputs)
        row_targets.append(targets)
        row_positions.append(positions)
    width = max(len(ids) for ids in row_inputs)
    for inputs, targets, positions in zip(row_inputs, row_targets, row_positions):
        pad_by = width - len(inputs)
        inputs += [pad] * pad_by
        targets += [IGNORE_INDEX] * pad_by
        positions += range(pad_by)
    return {
        k: torch.tensor(v)
        for k, v in (("input_ids", row_inputs), ("targets", row_targets), ("position_ids", row_positions))
    }


def test_same_key_reuses_the_store_and_a_changed_key_prepares_again(tmp_path, tokenizer, monkeypatch):
    source = tmp_path / "chats.jsonl"
    source.write_text(SFT_MIXTURE.read_text())
    data = DataConfig(train_files=[str(source)])
    recipe = Recipe("sft", max_length=128, keep_truncated=False)
    first = prepare(data, recipe, tokenizer, tmp_path / "stores")
    assert first.prepared_here and (first.directory / "meta.json").is_file()

    def no_tokenizing(*args, **kwargs):
        raise AssertionError("a store with this key exists: nothing is tokenized")

    with monkeypatch.context() as patch:
        patch.setattr(prepared, "prepare_batch", no_tokenizing)
        again = prepare(data, recipe, copy.deepcopy(tokenizer), tmp_path / "stores")
    assert not again.prepared_here and again.directory == first.directory
    assert as_lists(again.train) == as_lists(first.train)

    bos_template = copy.deepcopy(tokenizer)
    bos_template.chat_template = "{{ bos_token }}" + tokenizer.chat_template
    other_vocabulary = train_tiny_tokenizer(["something else entirely"] * 3, vocab_size=300)
    changes = {
        "max length": (data, replace(recipe, max_length=64), tokenizer),
        "truncation": (data, replace(recipe, keep_truncated=True), tokenizer),
        "BOS rule": (data, recipe, bos_template),
        "tokenizer": (data, recipe, other_vocabulary),
        "validation split": (replace(data, val_fraction=0.25), recipe, tokenizer),
    }
    directories = {first.directory}
    for what, (changed_data, changed_recipe, changed_tokenizer) in changes.items():
        store = prepare(changed_data, changed_recipe, changed_tokenizer, tmp_path / "stores")
        assert store.prepared_here and store.directory not in directories, what
        directories.add(store.directory)
    first_ids = first.train[0]["input_ids"].tolist()
    assert prepare(data, recipe, bos_template, tmp_path / "stores").train[0]["input_ids"].tolist() == [
        tokenizer.bos_token_id,
        *first_ids,
    ]
    # the source itself changed (new contents, new modification time): prepared again
    source.write_text(SFT_MIXTURE.read_text().splitlines()[0] + "\n")
    os.utime(source, ns=(1, 1))
    changed = prepare(data, recipe, tokenizer, tmp_path / "stores")
    assert changed.prepared_here and changed.directory not in directories
    assert len(changed.train) + changed.counts["dropped_examples"] == 1


def test_every_bad_row_is_reported_by_file_and_line_and_nothing_is_stored(tmp_path, tokenizer):
    good = SFT_MIXTURE.read_text().splitlines()[0]
    lines = [
        good,
        "",
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant"}]}',
        "{not json",
        good,
        '{"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "x"}]}',
        "\u00a0",  # Unicode whitespace: a blank line, skipped as `iter_jsonl` does
        '["a list"]',
    ]
    source = tmp_path / "bad.jsonl"
    source.write_text("\n".join(lines) + "\n")
    with pytest.raises(RowErrors) as caught:
        prepare(
            DataConfig(train_files=[str(source)]), Recipe("sft", 128, False), tokenizer, tmp_path / "stores"
        )
    assert caught.value.problems == [
        f"{source}:3: messages[1] (assistant) has no 'content'",
        f"{source}:4: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
        f"{source}:6: messages[0] (user) content must be a string, got int",
        f"{source}:8: expected a JSON object, got an array",
    ]
    assert not any((tmp_path / "stores").glob("sft-*")) and not any((tmp_path / "stores").glob(".partial-*"))


def test_a_preparation_killed_midway_leaves_no_store(tmp_path, tokenizer, monkeypatch):
    data = DataConfig(train_files=[str(SFT_MIXTURE)])

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(prepared, "_save_split", killed)
        with pytest.raises(KeyboardInterrupt):
            prepare(data, Recipe("sft", 1024, False), tokenizer, tmp_path)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
    # a SIGKILLed preparation leaves its temporary directory: the next one (holding the lock) removes it
    stale = tmp_path / f".partial-99999999-sft-{'0' * 24}"
    stale.mkdir()
    (stale / "meta.json").write_text("{}")
    monkeypatch.setattr(prepared, "store_key", lambda *args: "0" * 24)
    store = prepare(data, Recipe("sft", 1024, False), tokenizer, tmp_path)
    assert store.prepared_here and len(store.train) == 8 and not stale.exists()


@pytest.mark.parametrize("streaming", [True, False], ids=["streamed", "downloaded"])
def test_hub_dataset_rows_are_prepared_as_their_file(tmp_path, tokenizer, monkeypatch, streaming):
    """`data.hub_dataset` through `datasets` (a local dataset directory here: no downloads), streamed into the
    store (nothing cached whole by `datasets`) or loaded whole; rows named `<name>[<split>]:<row>`; the key follows
    the files and, streamed, the commit `datasets` resolved."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    hub = tmp_path / "org_chats"
    hub.mkdir()
    lines = SFT_MIXTURE.read_text().splitlines()
    (hub / "train.jsonl").write_text(
        "\n".join([*lines, '{"messages": [{"role": "user", "content": "hi"}]}']) + "\n"
    )
    recipe = Recipe("sft", 1024, False)
    data = DataConfig(hub_dataset=str(hub), hub_split="train", hub_streaming=streaming)
    with pytest.raises(RowErrors) as caught:
        prepare(data, recipe, tokenizer, tmp_path / "a")
    assert caught.value.problems == [f"{hub}[train]:9: 'messages' has no assistant turn to train on"]
    (hub / "train.jsonl").write_text("\n".join(lines) + "\n")
    from_hub = prepare(data, recipe, tokenizer, tmp_path / "a")
    from_file = prepare(DataConfig(train_files=[str(SFT_MIXTURE)]), recipe, tokenizer, tmp_path / "b")
    assert as_lists(from_hub.train) == as_lists(from_file.train) and len(from_hub.train) == 8
    cached = list((tmp_path / "hf-cache").rglob("*.arrow"))
    assert not cached if streaming else cached
    assert not prepare(data, recipe, tokenizer, tmp_path / "a").prepared_here
    if streaming:  # the dataset at another commit: prepared again
        builder = datasets.load_dataset_builder

        def at_another_commit(*args, **kwargs):
            loaded = builder(*args, **kwargs)
            loaded.hash = "0" * 40
            return loaded

        monkeypatch.setattr(datasets, "load_dataset_builder", at_another_commit)
        assert prepare(data, recipe, tokenizer, tmp_path / "a").prepared_here
    with pytest.raises(DataError, match=r"data.hub_dataset: cannot load .* split 'dev': .*split"):
        prepare(replace(data, hub_split="dev"), recipe, tokenizer, tmp_path / "a")


def test_parquet_rows_are_prepared_as_their_jsonl(tmp_path, tokenizer):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in SFT_MIXTURE.read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "chats.parquet")
    recipe = Recipe("sft", 128, False)
    from_jsonl = prepare(DataConfig(train_files=[str(SFT_MIXTURE)]), recipe, tokenizer, tmp_path / "a")
    from_parquet = prepare(
        DataConfig(train_files=[str(tmp_path / "chats.parquet")]), recipe, tokenizer, tmp_path / "b"
    )
    assert as_lists(from_parquet.train) == as_lists(from_jsonl.train)


def _prepare_as(rank: int, local_rank: int, root: str, started, results) -> None:
    """One process of a job: the first one started (here rank 1) signals, the other starts once it is waiting."""
    os.environ["RANK"], os.environ["LOCAL_RANK"] = str(rank), str(local_rank)
    rows = [json.loads(line) for line in SFT_MIXTURE.read_text().splitlines()]
    tokenizer = train_tiny_tokenizer(row_texts(rows), vocab_size=320)
    if rank == 0:
        started.wait(60)
    else:
        started.set()
    data = DataConfig(train_files=[str(SFT_MIXTURE)])
    store = prepare(data, Recipe("sft", 1024, False), tokenizer, root, num_proc=2 if rank == 0 else None)
    results.put((rank, str(store.directory), store.prepared_here, len(store.train)))


def run_processes(tmp_path: Path, ranks: list[tuple[int, int]]) -> list[tuple]:
    """(rank, store directory, prepared here, examples) of each process (rank, local rank), by rank."""
    context = multiprocessing.get_context("fork")  # torch and the tokenizer already imported
    started, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=_prepare_as, args=(rank, local, str(tmp_path), started, results))
        for rank, local in ranks
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    outcome = sorted(results.get(timeout=5) for _ in processes)
    assert len({directory for _, directory, _, _ in outcome}) == 1 and outcome[0][3] == outcome[1][3] > 0
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        Path(outcome[0][1]).name
    ]
    return outcome


def test_two_ranks_prepare_once_only_rank_zero_writing(tmp_path):
    (_, directory, wrote0, _), (_, _, wrote1, _) = run_processes(tmp_path, [(1, 1), (0, 0)])
    assert wrote0 and not wrote1  # rank 1, started first, waited for rank 0's store
    meta = json.loads((Path(directory) / "meta.json").read_text())
    assert meta["prepared_by_rank"] == 0 and meta["num_proc"] == 2


def test_two_nodes_on_one_filesystem_prepare_once(tmp_path):
    """The first process of each of two nodes (ranks 0 and 8) share the store's directory: the lock lets one
    write it, the other finds it whole."""
    (_, _, wrote0, _), (_, _, wrote8, _) = run_processes(tmp_path, [(8, 0), (0, 0)])
    assert wrote0 + wrote8 == 1


def test_prepare_command_prepares_what_fit_then_finds(tmp_path, capsys):
    from tests.conftest import tiny_sft_config, write_config
    from tulu_lightning.cli import main
    from tulu_lightning.objectives import sft
    from tulu_lightning.train import load_run_config

    overrides = [f"data.prepared_dir={tmp_path / 'stores'}", f"data.train_files=[{SFT_MIXTURE}]"]
    config = str(write_config(tmp_path, tiny_sft_config(tmp_path, data={"val_files": []})))
    assert main(["prepare", "--config", config, *overrides]) == 0
    assert capsys.readouterr().out.startswith(f"prepared: {tmp_path / 'stores'}/sft-")
    assert main(["prepare", "--config", config, *overrides]) == 0
    assert capsys.readouterr().out.startswith("found: ")
    _, datamodule = sft.build(load_run_config(config, overrides))
    assert not datamodule.store.prepared_here and len(datamodule.store.train) == 8 - 3  # 3 over 128 tokens
    assert datamodule.counts["over_long_examples"] == 3

    bad = tmp_path / "bad.jsonl"
    bad.write_text(SFT_MIXTURE.read_text() + '{"messages": []}\n')
    assert main(["prepare", "--config", config, f"data.train_files=[{bad}]"]) == 2
    out, err = capsys.readouterr()
    assert out == f"{bad}:9: 'messages' has no messages\n" and err == "error: 1 bad row\n"
