"""`decontaminate --benchmarks tulu3_dev,tulu3_unseen`: the suites' questions, read through their task
definitions, find a benchmark question planted in training data."""

from __future__ import annotations

import json

import pytest

from tests.eval_support import EVAL_DATA
from tulu_lightning.cli import main

pytest.importorskip("lm_eval")


def test_planted_question_is_found_through_the_suite_names(tmp_path, capsys):
    mmlu_pro = json.loads((EVAL_DATA / "TIGER-Lab/MMLU-Pro/test.jsonl").read_text().splitlines()[1])
    gsm8k = json.loads((EVAL_DATA / "openai/gsm8k/main/test.jsonl").read_text().splitlines()[2])
    rows = [
        {"id": "clean", "messages": [{"role": "user", "content": "Write a limerick about a lighthouse keeper and "
                                      "his very patient cat who waits by the stairs every evening."}]},
        {"id": "planted-dev", "messages": [{"role": "user", "content": "Solve this: " + gsm8k["question"]}]},
        {"id": "planted-unseen", "messages": [{"role": "user", "content": f"Quiz time! {mmlu_pro['question']} Think "
                                               "about the orbits of every planet before you answer the question."}]},
    ]  # fmt: skip
    train = tmp_path / "sft.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    code = main(["decontaminate", f"benchmark_data={EVAL_DATA}", f"tracking.uri=sqlite:///{tmp_path / 'm.db'}",
                 "--benchmarks", "tulu3_dev,tulu3_unseen", "--train", str(train), "--out", str(out),
                 "--no-progress", "-n", "5"])  # fmt: skip
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    benchmarks = {b["name"]: b["instances"] for b in report["benchmarks"]}
    assert (
        benchmarks["gsm8k"] == 4 and benchmarks["bbh"] == 27 and benchmarks["mmlu_pro"] == 2
    )  # every task's docs
    assert len(benchmarks) == 19
    found = {(r["id"], m["benchmark"], m["instance_id"])
             for r in map(json.loads, (out / "contaminated.jsonl").open()) for m in r["matches"]}  # fmt: skip
    assert found == {
        ("planted-dev", "gsm8k", "tulu3_gsm8k:2"),
        ("planted-unseen", "mmlu_pro", "tulu3_mmlu_pro:1"),
    }
    verdicts = {(r["benchmark"], r["contaminated"]) for r in report["results"]}
    assert ("gsm8k", True) in verdicts and ("mmlu_pro", True) in verdicts and ("math", False) in verdicts
    clean = [json.loads(line)["id"] for line in (out / "clean" / "sft.jsonl").open()]
    assert clean == ["clean"]


def test_a_suite_whose_data_cannot_be_read_is_one_line(tmp_path, capsys):
    train = tmp_path / "sft.jsonl"
    train.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["decontaminate", f"benchmark_data={empty}", "--benchmarks", "tulu3_dev", "--train", str(train),
                 "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith(
        "error: --benchmarks tulu3_dev: dev/mmlu: cannot read its benchmark data"
    )
    assert len(err.splitlines()) == 1
