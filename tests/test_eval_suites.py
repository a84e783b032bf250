"""Tülu 3's suites on lm-eval, offline: the fixtures are in the hub datasets' schemas, every task scores known
answers right through its own prompt, extraction and metric, and `eval` runs a model end to end into MLflow."""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from tests.eval_support import EVAL_DATA, REPO, StubJudge, build_tiny_model_dir, prefer_shorter, scripted_lm
from tulu_lightning.cli import main
from tulu_lightning.evaluation.suites import SUITES, TULU3_DEV, TULU3_UNSEEN

lm_eval_bridge = pytest.importorskip("tulu_lightning.evaluation.lm_eval_bridge")


def load_fixture_script():
    spec = importlib.util.spec_from_file_location(
        "make_eval_fixtures", REPO / "scripts" / "make_eval_fixtures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fixtures_are_what_the_script_writes_in_the_hub_schemas():
    script = load_fixture_script()
    files = script.fixtures()
    on_disk = {str(p.relative_to(EVAL_DATA)) for p in EVAL_DATA.rglob("*.jsonl")}
    assert on_disk == set(files)
    for relative, rows in files.items():
        assert (EVAL_DATA / relative).read_text() == "".join(
            json.dumps(r, ensure_ascii=False) + "\n" for r in rows
        )
        dataset = next(d for d in script.SCHEMAS if relative.startswith(d))
        for row in rows:
            assert list(row) == list(script.SCHEMAS[dataset]), relative
            for field, kind in script.SCHEMAS[dataset].items():
                assert isinstance(row[field], kind), (relative, field)


def test_suite_groups_list_the_suite_tasks():
    for suite in (TULU3_DEV, TULU3_UNSEEN):
        group = yaml.safe_load((lm_eval_bridge.TASKS_DIR / f"{suite.name}.yaml").read_text())
        assert group["group"] == suite.name
        assert group["task"] == [t.task for t in suite.tasks]


@pytest.fixture(scope="module")
def library():
    with lm_eval_bridge.TaskLibrary(local_data=EVAL_DATA) as lib:
        yield lib


def test_every_task_builds_on_lm_eval_and_has_a_local_copy(library):
    index = library.manager.task_index
    leaves = [name for name, entry in index.items() if entry.kind.name == "TASK"]
    assert set(leaves) == set(library.local_tasks)  # every benchmark of both suites has fixtures
    for suite in SUITES.values():
        for task in suite.tasks:
            assert task.task in index
    # the rendered includes point at the installed lm-eval's own task files
    text = (library.tasks_dir / "dev" / "gsm8k.yaml").read_text()
    include = re.search(r"^include: (.*)$", text, re.MULTILINE).group(1)
    assert Path(include).is_file() and include.endswith("lm_eval/tasks/gsm8k/gsm8k-cot.yaml")
    assert library.config("tulu3_gsm8k")["num_fewshot"] == 8  # inherited from lm-eval's gsm8k_cot


# --- every task scores known answers ----------------------------------------------------------------------------


def fixture_rows(relative_glob: str) -> list[dict]:
    return [json.loads(line) for path in sorted(EVAL_DATA.glob(relative_glob)) for line in path.open()]


def gold_answers() -> list[tuple[str, str]]:
    """(text found in a question's prompt, a right answer written the way each task's reader expects)."""
    pairs = []
    for row in fixture_rows("openai/gsm8k/main/test.jsonl"):
        pairs.append(
            (row["question"], f"Working it out. The answer is {row['answer'].split('####')[-1].strip()}.")
        )
    for row in fixture_rows("EleutherAI/hendrycks_math/*/test.jsonl"):
        answer = re.search(r"\\boxed\{(.*)\}", row["solution"]).group(1)
        pairs.append(
            (
                row["problem"],
                f"Step by step.\nFinal Answer: The final answer is ${answer}$. I hope it is correct.",
            )
        )
    for row in fixture_rows("cais/mmlu/all/test.jsonl"):
        pairs.append((row["question"], f"Reasoning. Therefore, the answer is ({'ABCD'[row['answer']]})"))
    for row in fixture_rows("TIGER-Lab/MMLU-Pro/test.jsonl"):
        pairs.append((row["question"], f"Therefore, the answer is ({row['answer']})"))
    for row in fixture_rows("hails/agieval-*/test.jsonl"):
        pairs.append(
            (row["query"].split("Answer Choices")[0], f"Therefore, the answer is ({'ABCDE'[row['gold'][0]]})")
        )
    for row in fixture_rows("SaylorTwift/bbh/*/test.jsonl"):
        pairs.append((row["input"], f"Let me think. So the answer is {row['target']}."))
    for row in fixture_rows("akariasai/PopQA/test.jsonl"):
        pairs.append((row["question"], f" {row['obj']}"))
    for row in fixture_rows("EleutherAI/drop/validation.jsonl"):
        answer = row["answer"]["number"] or " ".join(row["answer"]["spans"])
        pairs.append((row["question"], f" {answer}"))
    for row in fixture_rows("deepmind/math_dataset/test.jsonl"):
        # an equivalent form, in Python syntax: 2*x**2 - x - 3 written as -x - 3 + 2*x**2
        answer = {"2*x**2 - x - 3": "-x - 3 + 2*x**2"}.get(row["answer"], row["answer"])
        pairs.append(
            (row["question"], f"Work.\nTherefore, the final answer is {answer}. I hope it is correct.")
        )
    ifeval_answers = {
        1000: "rivers run to the sea and carry water through valleys, towns and fields.",
        1001: " ".join(["a busy city has many streets and people and shops and parks to visit"] * 3),
        1002: "* apple\n* pear\n* plum",
        2000: "tea is a warm drink made from leaves and people around the world enjoy it every single day for sure",
        2001: "I like red and blue, 1 and 2.",
    }
    for row in fixture_rows("google/IFEval/train.jsonl") + fixture_rows("allenai/IFBench_test/train.jsonl"):
        pairs.append((row["prompt"], ifeval_answers[row["key"]]))
    for row in fixture_rows("Idavidrein/gpqa/gpqa_main/train.jsonl"):
        pairs.append((row["Question"], "GPQA"))  # answered below: the options are shuffled
    return pairs


def answer_for(prompt: str, pairs: list[tuple[str, str]]) -> str:
    """The answer of the question asked last in `prompt` (few-shot prompts quote other questions first)."""
    found = [(prompt.rfind(key), answer, key) for key, answer in pairs if key in prompt]
    if not found:
        return "I do not know."
    _, answer, key = max(found)
    if answer == "GPQA":  # read the correct option's letter from the shuffled choices in the prompt
        row = next(r for r in fixture_rows("Idavidrein/gpqa/gpqa_main/train.jsonl") if r["Question"] == key)
        letter = re.search(r"\(([A-D])\) " + re.escape(row["Correct Answer"]), prompt).group(1)
        return f"Therefore, the answer is ({letter})"
    return answer


SCORED_TASKS = (
    [t for suite in SUITES.values() for t in suite.tasks if t.needs is None and t.name != "truthfulqa"]
    + [t for t in TULU3_DEV.tasks if t.needs == "code"]
    + [TULU3_UNSEEN.task("bigcodebench")]
)


@pytest.mark.parametrize("task", SCORED_TASKS, ids=lambda t: t.name)
def test_every_task_scores_right_answers_fully(library, task):
    from tulu_lightning.evaluation import sandbox
    from tulu_lightning.evaluation.runner import run_task

    pairs = gold_answers()
    canonical = {
        r["prompt"]: r["canonical_solution"] for r in fixture_rows("openai/openai_humaneval/test.jsonl")
    }
    bigcode = fixture_rows("bigcode/bigcodebench-hard/v0.1.4.jsonl")

    def respond(prompt: str) -> str:
        for code_prompt, body in canonical.items():
            if prompt.rstrip().endswith(code_prompt.rstrip()):  # the answer prefix repeats the prompt
                return body + "```"
        for row in bigcode:
            if row["instruct_prompt"] in prompt:
                return f"```python\n{row['code_prompt']}{row['canonical_solution']}```"
        return answer_for(prompt, pairs)

    suite = next(s for s in SUITES.values() if task in s.tasks)
    with sandbox.code_execution(sandbox.CodeExecutionConfig(enabled=True, timeout_s=10, workers=2)):
        outcome = run_task(scripted_lm(respond), library, suite, task, confirm_run_unsafe_code=True)
    assert outcome.score == 1.0, (task.name, outcome.metrics)
    assert outcome.samples and all("prompt" in s and "response" in s for s in outcome.samples)


def test_loglikelihood_task_follows_the_likelier_choices(library):
    """TruthfulQA MC2: the normalised probability mass on the true answers."""
    from tulu_lightning.evaluation.runner import run_task

    true_answers = {c for r in fixture_rows("truthfulqa/truthful_qa/multiple_choice/validation.jsonl")
                    for c, label in zip(r["mc2_targets"]["choices"], r["mc2_targets"]["labels"]) if label}  # fmt: skip

    def loglikelihood(context: str, continuation: str) -> float:
        return 0.0 if continuation.strip() in true_answers else -50.0

    lm = scripted_lm(lambda prompt: "", loglikelihood)
    outcome = run_task(lm, library, TULU3_DEV, TULU3_DEV.task("truthfulqa"))
    assert outcome.score == pytest.approx(1.0)
    inverted = scripted_lm(lambda prompt: "", lambda c, x: -loglikelihood(c, x) - 50.0)
    assert run_task(inverted, library, TULU3_DEV, TULU3_DEV.task("truthfulqa")).score == pytest.approx(
        0.0, abs=1e-6
    )


def test_pass_at_k_from_half_right_samples(library):
    from tulu_lightning.evaluation import sandbox
    from tulu_lightning.evaluation.runner import run_task

    canonical = {
        r["prompt"]: r["canonical_solution"] for r in fixture_rows("openai/openai_humaneval/test.jsonl")
    }
    calls = {"n": 0}

    def respond(prompt: str) -> str:  # every other sample is wrong
        calls["n"] += 1
        body = next(b for p, b in canonical.items() if prompt.rstrip().endswith(p.rstrip()))
        return (body if calls["n"] % 2 else "    return None\n") + "```"

    with sandbox.code_execution(sandbox.CodeExecutionConfig(enabled=True)):
        outcome = run_task(scripted_lm(respond), library, TULU3_DEV, TULU3_DEV.task("humaneval"),
                           confirm_run_unsafe_code=True)  # fmt: skip
    assert outcome.metrics["pass@1,programs"] == pytest.approx(0.5)
    assert outcome.score == pytest.approx(
        1 - math.comb(10, 10) / math.comb(20, 10)
    )  # pass@10 with n=20, c=10


# --- the command end to end -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny_eval_model"))


def test_eval_command_on_a_model_into_mlflow(tiny_model, tmp_path, capsys):
    """The demo config's settings on a tiny model, for tasks of both suites: generation tasks scored by verifiers,
    a log-likelihood task, a code task in the sandbox, a judged task against a stub judge on 127.0.0.1."""
    db = tmp_path / "mlflow.db"
    with StubJudge(prefer_shorter, max_requests=10) as judge:
        code = main([
            "eval", "--config", str(REPO / "configs/eval/demo.yaml"), f"model={tiny_model}",
            "tasks=[gsm8k,truthfulqa,humaneval,alpaca_eval,deepmind_math,ifeval_ood]", f"output_dir={tmp_path / 'out'}",
            f"tracking.uri=sqlite:///{db}", "limit=2", "max_gen_toks=8", "task_overrides.humaneval.repeats=10",
            f"judge.base_url={judge.base_url}", "judge.model=stub-judge",
        ])  # fmt: skip
        assert len(judge.prompts) == 2  # one judgement per AlpacaEval question (both metrics share it)
    assert code == 0
    shown = capsys.readouterr()
    assert shown.err.startswith(f"eval: tasks gsm8k, truthfulqa, humaneval, alpaca_eval, deepmind_math, ifeval_ood of "
                                f"tulu3_dev, tulu3_unseen on {tiny_model} (at most 2 questions per task); loading")  # fmt: skip
    assert re.search(
        r"\ndev/gsm8k: \d\.\d{4} \(\S+, \d+ s\)\n", shown.err.replace("\r", "\n")
    )  # as soon as it is known
    paragraph = " ".join(shown.out[shown.out.index("eval of ") :].split())
    assert "6 tasks (6 scored)" in paragraph and "Key figures: dev/mean " in paragraph
    assert f"mlflow ui --backend-store-uri sqlite:///{db}" in paragraph
    summary = json.loads((tmp_path / "out" / "metrics.json").read_text())
    metrics = summary["metrics"]
    dev, unseen = (
        ["truthfulqa", "gsm8k", "humaneval", "alpaca_eval"],
        ["deepmind_math", "ifeval_ood"],
    )  # suite order
    assert set(metrics) == {f"dev/{t}" for t in dev} | {f"unseen/{t}" for t in unseen} | {
        "dev/mean",
        "unseen/mean",
    }
    assert summary["coverage"] == {"dev/mean": dev, "unseen/mean": unseen}
    assert metrics["dev/mean"] == pytest.approx(sum(metrics[f"dev/{t}"] for t in dev) / 4)
    # the stub prefers the shorter answer: the tiny model's 8 tokens beat every baseline answer
    assert summary["tasks"]["dev/alpaca_eval"]["metrics"]["tulu_judge_win_rate,none"] == 1.0
    assert 0.0 <= metrics["dev/alpaca_eval"] <= 1.0
    assert set(summary["tasks"]["dev/humaneval"]["metrics"]) == {"pass@1,programs", "pass@10,programs"}
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    run = client.search_runs([client.get_experiment_by_name("evaluation").experiment_id])[0]
    assert {k: run.data.metrics[k] for k in metrics} == pytest.approx(metrics)
    assert run.data.params["version.lm_eval"].startswith("0.4.")
    assert run.data.params["dev/gsm8k.num_fewshot"] == "8"
    assert run.data.params["dev/gsm8k.dataset"].startswith("local: ")
    assert run.data.params["judge.model"] == "stub-judge"  # the resolved config, as params
    assert run.data.tags["dev/mean.tasks"] == ",".join(dev)
    tables = {a.path for a in client.list_artifacts(run.info.run_id, "samples")}
    assert tables == {f"samples/dev_{t}.json" for t in dev} | {f"samples/unseen_{t}.json" for t in unseen}
    table = json.loads(
        Path(client.download_artifacts(run.info.run_id, "samples/dev_gsm8k.json", str(tmp_path))).read_text()
    )
    assert {"prompt", "response", "target", "tulu_exact_match"} <= set(table["columns"]) and len(
        table["data"]
    ) == 2
    samples = [json.loads(line) for line in (tmp_path / "out" / "samples" / "dev_gsm8k.jsonl").open()]
    assert samples[0]["prompt"].startswith("<|user|>\nQ: ") and samples[0]["prompt"].endswith(
        "<|assistant|>\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--suite", "tulu3_dev"], "give --config FILE, or --suite SUITE and --model DIR"),
        (["--suite", "tulu3_test", "--model", "."], "suites[0]: unknown suite 'tulu3_test'"),
        (
            ["--suite", "tulu3_dev", "--model", ".", "--tasks", "gpqa"],
            "tasks[0]: 'gpqa' is in none of tulu3_dev",
        ),
        (["--suite", "tulu3_dev", "--model", "./nope"], "model: model directory not found: ./nope"),
        (
            ["--suite", "tulu3_dev", "--model", ".", "--local-data", "nope"],
            "local_data: directory not found: nope",
        ),
        (["--suite", "tulu3_dev", "--model", ".", "backend=tgi"], "backend: expected one of hf, vllm"),
        (
            ["--suite", "tulu3_dev", "--model", ".", "judge.base_url=ftp://x"],
            "judge.base_url: expected an http(s) URL",
        ),
    ],
)
def test_eval_config_errors_are_one_line(args, message, capsys):
    assert main(["eval", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_write_tasks_for_lm_eval_cli(tmp_path, capsys):
    assert main(["eval", "--write-tasks", str(tmp_path / "tasks")]) == 0
    text = (tmp_path / "tasks" / "dev" / "math" / "algebra.yaml").read_text()
    assert "lm_eval/tasks/hendrycks_math/hendrycks_math_algebra.yaml" in text and "include: [/" in text
    assert "--include_path" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_config_on_the_demo_sft_model(demo_sft, tmp_path):
    """configs/eval/demo.yaml as written, on the demo SFT model: every task of both suites runs on the local
    fixtures (the judged ones are skipped: no judge), and MLflow holds dev/*, unseen/* and both means."""
    db = tmp_path / "mlflow.db"
    code = main(["eval", "--config", str(REPO / "configs/eval/demo.yaml"), f"model={demo_sft.hf_dir}",
                 f"output_dir={tmp_path / 'out'}", f"tracking.uri=sqlite:///{db}"])  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "out" / "metrics.json").read_text())
    judged = {t.name for s in SUITES.values() for t in s.tasks if t.needs == "judge"}
    for suite in SUITES.values():
        expected = [t.name for t in suite.tasks if t.name not in judged]
        assert summary["coverage"][f"{suite.prefix}/mean"] == expected
        for name in expected:
            assert 0.0 <= summary["metrics"][f"{suite.prefix}/{name}"] <= 1.0
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    run = client.search_runs([client.get_experiment_by_name("evaluation").experiment_id])[0]
    assert {"dev/mean", "unseen/mean", "dev/gsm8k", "unseen/gpqa"} <= set(run.data.metrics)
