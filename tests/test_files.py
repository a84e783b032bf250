"""`tulu_lightning.files`: an interrupted write leaves the old file (or nothing), never a half-written one."""

from __future__ import annotations

import pytest

from tulu_lightning.errors import OutputError
from tulu_lightning.files import atomic_open, atomic_path, check_outputs, prepare_output_dir, write_text


def test_an_interrupted_write_keeps_the_previous_file_whole(tmp_path):
    path = tmp_path / "report.json"
    write_text(path, "complete\n")
    with pytest.raises(KeyboardInterrupt), atomic_open(path) as f:
        f.write("half of a new rep")
        raise KeyboardInterrupt
    assert path.read_text() == "complete\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_directory_is_replaced_only_once_the_new_one_is_whole(tmp_path):
    target = tmp_path / "hf"
    with atomic_path(target) as temporary:
        temporary.mkdir()
        (temporary / "model.safetensors").write_text("v1")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.mkdir()
        (temporary / "model.safetensors").write_text("v2, cut sh")
        raise RuntimeError("killed while saving")
    assert (target / "model.safetensors").read_text() == "v1"
    with atomic_path(target) as temporary:
        temporary.mkdir()
        (temporary / "model.safetensors").write_text("v2")
    assert (target / "model.safetensors").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf"]


def test_the_temporary_file_keeps_the_suffix_writers_go_by(tmp_path):
    with atomic_path(tmp_path / "clean" / "train.jsonl.zst") as temporary:
        assert temporary.name.endswith("-train.jsonl.zst") and temporary.parent == tmp_path / "clean"
        temporary.write_bytes(b"")


def test_outputs_are_compared_with_inputs_after_symlinks(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text("{}\n")
    (tmp_path / "alias").symlink_to(data)
    with pytest.raises(OutputError, match="would overwrite the input"):
        check_outputs([tmp_path / "alias" / "train.jsonl"], [data / "train.jsonl"])
    with pytest.raises(OutputError, match="would delete the input"):
        check_outputs([tmp_path / "alias"], [data / "train.jsonl"])
    check_outputs([tmp_path / "alias" / "clean.jsonl"], [data / "train.jsonl", None])


def test_an_output_dir_must_be_a_new_or_empty_directory(tmp_path):
    assert prepare_output_dir(tmp_path / "new").is_dir()
    prepare_output_dir(tmp_path / "new")  # empty: fine
    (tmp_path / "new" / "x").write_text("")
    with pytest.raises(OutputError, match="not empty"):
        prepare_output_dir(tmp_path / "new")
    prepare_output_dir(tmp_path / "new", overwrite=True)
    with pytest.raises(OutputError, match="not a directory"):
        prepare_output_dir(tmp_path / "new" / "x", overwrite=True)
