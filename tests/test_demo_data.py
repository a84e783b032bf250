"""The bundled demo data is what scripts/make_demo_data.py writes, and its preference labels are right: every
chosen answer passes the GSM8K verifier, every rejected one fails it, whatever its kind of mistake."""

import importlib.util
from collections import Counter

from conftest import DEMO_DATA, REPO

from tulu_lightning.files import read_jsonl
from tulu_lightning.rewards import verify


def load_script():
    spec = importlib.util.spec_from_file_location("make_demo_data", REPO / "scripts" / "make_demo_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundled_files_are_what_the_script_writes(tmp_path):
    load_script().main(tmp_path)
    for written in sorted(tmp_path.glob("*.jsonl")):
        assert written.read_bytes() == (DEMO_DATA / written.name).read_bytes(), written.name


def test_preference_pairs_rank_a_verified_answer_over_each_kind_of_mistake():
    kinds = load_script().REJECTED_KINDS
    for split in ("train", "val"):
        rows = read_jsonl(DEMO_DATA / f"preference_{split}.jsonl")
        truths = [row["ground_truth"] for row in rows]
        chosen = verify("gsm8k", [row["chosen"][-1]["content"] for row in rows], truths)
        rejected = verify("gsm8k", [row["rejected"][-1]["content"] for row in rows], truths)
        assert all(v.score == 1.0 for v in chosen), split
        assert all(v.score == 0.0 for v in rejected), split
        counts = Counter(row["rejected_kind"] for row in rows)
        assert set(counts) == set(kinds) and min(counts.values()) >= len(rows) / len(kinds) / 2, counts
