"""On the same generations, our verifier-scored tasks give lm-eval's own scores wherever the two sets of rules
agree; where they differ, the difference is the one listed (and explained) in KNOWN_DIFFERENCES below.

Each case is a question with a gold answer and a response. Both harness paths see exactly the same responses
(a scripted model answers each question): our suite task (its prompt, our verifier as an lm-eval metric) and
lm-eval's own task for the benchmark (its filters and metric), each reading the same local documents.

| benchmark      | ours                                    | reference                                              |
| -------------- | --------------------------------------- | ------------------------------------------------------ |
| GSM8K          | tulu3_gsm8k, `gsm8k` verifier           | lm-eval gsm8k_cot, flexible-extract + exact_match      |
| MATH           | tulu3_math_algebra, `math` verifier flex | lm-eval hendrycks_math_algebra (its process_results)  |
| IFEval         | tulu3_ifeval, `ifeval` verifier         | lm-eval ifeval (its process_results, Google's code)    |
| DM Mathematics | tulu3_deepmind_math, `math` verifier     | no lm-eval task: SymPy's equivalence of the two answers |
| IFEval-OOD     | tulu3_ifeval_ood, `ifbench` verifier     | no lm-eval task: IFBench's own checks (if-verifiable), in test_rewards_conformance.py |
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.eval_support import REPO, scripted_lm

lm_eval_bridge = pytest.importorskip("tulu_lightning.evaluation.lm_eval_bridge")

# (gold, response, our score, lm-eval's score)
GSM8K_CASES = [
    ("18", "She makes 9 * 2 = 18 dollars a day. The answer is 18.", 1, 1),
    ("18", "9 + 8 = 17. The answer is 17.", 0, 0),
    ("1234", "So the total is 1,234.", 1, 1),
    ("5", "It costs $5", 1, 1),
    ("-4", "The temperature fell to -4 degrees.", 1, 1),
    ("72", "There were 72 eggs, packed in 3 boxes", 0, 0),
    ("18", "", 0, 0),
    ("18", "The answer is 18.0", 1, 0),
    ("0.5", "Half of it: 0.50", 1, 0),
    ("5", "Each box holds 3-5", 1, 0),
]
MATH_CASES = [  # gold boxed answer, response
    ("\\frac{1}{2}", "So the probability is $\\frac{1}{2}$", 1, 1),
    ("\\frac{1}{2}", "The answer is $\\dfrac{1}{2}$", 1, 1),
    ("\\frac{1}{2}", "The answer is $\\frac12$", 1, 1),
    ("10", "The side is $10$", 1, 1),
    ("10", "The side is $11$", 0, 0),
    ("\\frac{1}{2}", "The answer is $0.5$", 1, 1),  # Hendrycks' normaliser special-cases "0.5" (only it)
    ("\\frac{1}{4}", "The answer is $0.25$", 1, 0),
    ("\\frac{1}{2}", "The answer is \\boxed{\\frac{1}{2}}", 1, 0),
    ("\\frac{1}{2}", "With $x = 2$ we get $\\frac{1}{2}$", 1, 0),
    ("(1,2)", "The point is $(2,1)$", 0, 0),
]
DM_MATH_CASES = [  # gold, the answer the response concludes with
    ("2*x**2 - x - 3", "-x - 3 + 2*x**2", 1, 1),
    ("-2/7", "-4/14", 1, 1),
    ("5", "5.0", 1, 1),
    ("True", "True", 1, 1),
    ("-1b7", "-1b7", 1, 1),
    ("-3*sqrt(11) + 5", "5 - 3*sqrt(11)", 1, 1),
    ("x**3 + 1", "x**3 - 1", 0, 0),
    ("2, 10", "10, 2", 1, 0),
]

KNOWN_DIFFERENCES = [
    {"benchmark": "GSM8K", "example": "gold 18, response 'The answer is 18.0'", "ours": 1, "lm_eval": 0,
     "why": "we compare numbers as decimals (18.0 = 18, 0.50 = 0.5); lm-eval compares strings after removing "
            "commas, '$' and a final '.'"},
    {"benchmark": "GSM8K", "example": "gold 5, response 'Each box holds 3-5'", "ours": 1, "lm_eval": 0,
     "why": "a '-' right after a digit is a range, not a sign: we read 5, lm-eval's last-number regex reads -5"},
    {"benchmark": "MATH", "example": "gold \\frac{1}{4}, response '$0.25$'", "ours": 1, "lm_eval": 0,
     "why": "we decide mathematical equivalence; lm-eval compares normalised strings (its normaliser turns only "
            "'0.5' into \\frac{1}{2})"},
    {"benchmark": "MATH", "example": "gold \\frac{1}{2}, response '\\boxed{\\frac{1}{2}}' (no $)", "ours": 1,
     "lm_eval": 0, "why": "we read \\boxed{} answers (Tülu's and Minerva's format); lm-eval's hendrycks_math reads "
                          "only the text between the first and last '$'"},
    {"benchmark": "MATH", "example": "response 'With $x = 2$ we get $\\frac{1}{2}$'", "ours": 1, "lm_eval": 0,
     "why": "flex mode reads the last $...$; lm-eval takes everything from the first '$' to the last"},
    {"benchmark": "DM Mathematics", "example": "gold '2, 10', answer '10, 2'", "ours": 1, "lm_eval": 0,
     "why": "a comma list is a set for the math verifier (MATH's 'find all' answers); the reference compares "
            "the strings, and the prompt asks for lists in increasing order"},
    {"benchmark": "IFEval", "example": "language:response_language", "ours": None, "lm_eval": None,
     "why": "language identification: our detector (whatlang) vs lm-eval's langdetect, which is randomised; they "
            "agree on clear text and can differ on short or mixed-language text, so these rows are not compared"},
    {"benchmark": "IFEval", "example": "length_constraints:number_sentences", "ours": None, "lm_eval": None,
     "why": "lm-eval splits sentences with NLTK's Punkt model, whose data cannot be installed here; our splitter "
            "follows Punkt's rules (test_rewards_conformance.py); these rows are not compared"},
    {"benchmark": "IFEval", "example": "nth_paragraph greater than num_paragraphs", "ours": None, "lm_eval": None,
     "why": "an impossible argument: Google's code (and lm-eval's copy) then draws the paragraph at random, we "
            "count the constraint as not followed; no IFEval row has one, and the corpus rows that do are not "
            "compared"},
    {"benchmark": "IFEval", "example": "kwargs with a 0 or empty value", "ours": None, "lm_eval": None,
     "why": "lm-eval drops every falsy argument (`if v`), Google's reference and we drop only nulls; no IFEval row "
            "has such an argument, so scores do not differ on the benchmark"},
]  # fmt: skip


def write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def reference_task(tmp: Path, name: str, include: str, data_files: dict[str, Path]) -> str:
    """An lm-eval task of its own (by path) reading our local documents."""
    path = tmp / "reference" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    lm_eval_file = lm_eval_bridge.lm_eval_tasks_dir() / include
    files = ", ".join(f"{split}: {file}" for split, file in data_files.items())
    path.write_text(
        f"include: {lm_eval_file}\ntask: {name}\ntag: null\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs: {{data_files: {{{files}}}}}\n"
    )
    return str(path)


def per_doc_scores(
    library, task_spec, respond, metric: str, filter_name: str, chat: bool = True
) -> dict[int, float]:
    from lm_eval.evaluator import evaluate

    loaded = library.manager.load([task_spec])
    for task in loaded["tasks"].values():
        task.set_fewshot_seed(seed=0)
    results = evaluate(lm=scripted_lm(respond), task_dict=loaded, bootstrap_iters=0, log_samples=True,
                       apply_chat_template=chat, fewshot_as_multiturn=chat)  # fmt: skip
    (samples,) = results["samples"].values()
    return {s["doc_id"]: float(s[metric]) for s in samples if s["filter"] == filter_name}


def responder(responses: dict[str, str]):
    def respond(prompt: str) -> str:
        # the question asked last (few-shot prompts quote other questions first)
        found = [(prompt.rfind(key), answer) for key, answer in responses.items() if key in prompt]
        return max(found)[1] if found else ""

    return respond


@pytest.fixture
def local(tmp_path):
    return tmp_path / "local"


def test_gsm8k_parity(tmp_path, local):
    rows = [{"question": f"Parity case {i}: how many?", "answer": f"Work.\n#### {gold}"}
            for i, (gold, *_) in enumerate(GSM8K_CASES)]  # fmt: skip
    data = write(local / "openai/gsm8k/main/test.jsonl", rows)
    respond = responder({f"Parity case {i}:": c[1] for i, c in enumerate(GSM8K_CASES)})
    with lm_eval_bridge.TaskLibrary(local) as library:
        ours = per_doc_scores(library, "tulu3_gsm8k", respond, "tulu_exact_match", "none")
        ref = reference_task(tmp_path, "ref_gsm8k", "gsm8k/gsm8k-cot.yaml", {"test": data})
        theirs = per_doc_scores(library, ref, respond, "exact_match", "flexible-extract")
    check(GSM8K_CASES, ours, theirs, "GSM8K")


def test_math_parity(tmp_path, local):
    rows = [{"problem": f"Parity case {i}: find it.", "level": "Level 1", "type": "Algebra",
             "solution": f"Work. The answer is $\\boxed{{{gold}}}$."} for i, (gold, *_) in enumerate(MATH_CASES)]  # fmt: skip
    data = write(local / "EleutherAI/hendrycks_math/algebra/test.jsonl", rows)
    train = write(local / "EleutherAI/hendrycks_math/algebra/train.jsonl", rows[:1])
    respond = responder({f"Parity case {i}:": c[1] for i, c in enumerate(MATH_CASES)})
    with lm_eval_bridge.TaskLibrary(local) as library:
        ours = per_doc_scores(library, "tulu3_math_algebra", respond, "tulu_exact_match", "none")
        ref = reference_task(
            tmp_path, "ref_math", "hendrycks_math/hendrycks_math_algebra.yaml", {"test": data, "train": train}
        )
        theirs = per_doc_scores(library, ref, respond, "exact_match", "none", chat=False)
    check(MATH_CASES, ours, theirs, "MATH")


def test_deepmind_math_parity(local):
    """No lm-eval task: the reference is SymPy deciding whether the two answers are the same expression."""
    import sympy
    from sympy.parsing.sympy_parser import parse_expr

    def sympy_same(gold: str, answer: str) -> float:
        try:
            return float(sympy.simplify(parse_expr(gold) - parse_expr(answer)) == 0)
        except Exception:  # booleans, base-n numerals, lists: the strings
            return float(gold.strip() == answer.strip())

    write(local / "deepmind/math_dataset/test.jsonl",
          [{"question": f"Parity case {i}: compute.", "answer": gold} for i, (gold, *_) in enumerate(DM_MATH_CASES)])  # fmt: skip
    respond = responder({
        f"Parity case {i}:": f"Work.\nTherefore, the final answer is {answer}. I hope it is correct."
        for i, (_, answer, *_) in enumerate(DM_MATH_CASES)
    })  # fmt: skip
    with lm_eval_bridge.TaskLibrary(local) as library:
        ours = per_doc_scores(library, "tulu3_deepmind_math", respond, "tulu_exact_match", "answer")
    theirs = {i: sympy_same(gold, answer) for i, (gold, answer, *_) in enumerate(DM_MATH_CASES)}
    check(DM_MATH_CASES, ours, theirs, "DM Mathematics")


def check(cases, ours: dict[int, float], theirs: dict[int, float], benchmark: str) -> None:
    assert len(ours) == len(theirs) == len(cases)
    for i, (gold, response, expected_ours, expected_theirs) in enumerate(cases):
        assert (ours[i], theirs[i]) == (expected_ours, expected_theirs), (benchmark, gold, response)
    differ = {i for i in ours if ours[i] != theirs[i]}
    documented = [d for d in KNOWN_DIFFERENCES if d["benchmark"] == benchmark and d["ours"] is not None]
    assert len(differ) >= len(documented) > 0 or not differ  # every kind of difference seen is in the table
    agree = [i for i in ours if i not in differ]
    assert sum(ours[i] for i in agree) == sum(theirs[i] for i in agree)  # the task score on the agreeing rows


# --- IFEval: every constraint of the stored corpus, both readings (strict, loose) ----------------------------------

SKIPPED_IFEVAL_IDS = {"language:response_language", "length_constraints:number_sentences"}  # see the table


def impossible(row: dict) -> bool:
    """Arguments the reference answers at random (see KNOWN_DIFFERENCES)."""
    kwargs = row["kwargs"]
    return kwargs.get("nth_paragraph", 0) > kwargs.get("num_paragraphs", float("inf"))


def test_ifeval_parity(tmp_path, local, monkeypatch):
    import nltk

    # lm-eval's IFEval module downloads NLTK's Punkt on import; offline there is nothing to fetch (and the checks
    # that need it are not compared, see KNOWN_DIFFERENCES)
    monkeypatch.setattr(nltk, "download", lambda *args, **kwargs: False)
    corpus = [json.loads(line) for line in (REPO / "tests/data/rewards/ifeval_corpus.jsonl").open()]
    cases = [
        r
        for r in corpus
        if r["strict"] is not None and r["id"] not in SKIPPED_IFEVAL_IDS and not impossible(r)
    ]
    cases = cases[::6]
    assert len({c["id"] for c in cases}) >= 20
    rows = [{"key": i, "prompt": f"Parity case {i}.", "instruction_id_list": [c["id"]], "kwargs": [c["kwargs"]]}
            for i, c in enumerate(cases)]  # fmt: skip
    data = write(local / "google/IFEval/train.jsonl", rows)
    respond = responder({f"Parity case {i}.": c["response"] for i, c in enumerate(cases)})
    with lm_eval_bridge.TaskLibrary(local) as library:
        ref = reference_task(tmp_path, "ref_ifeval", "ifeval/ifeval.yaml", {"train": data})
        for reading in ("strict", "loose"):
            ours = per_doc_scores(
                library, "tulu3_ifeval", respond, f"tulu_prompt_level_{reading}_acc", "none"
            )
            theirs = per_doc_scores(library, ref, respond, f"prompt_level_{reading}_acc", "none")
            disagree = [(cases[i]["id"], cases[i]["response"][:60]) for i in ours if ours[i] != theirs[i]]
            assert not disagree, (reading, disagree)
            assert sum(ours.values()) == sum(theirs.values()) > 0


def test_ifeval_ood_parity_with_ifbench_reference(local, monkeypatch):
    """No lm-eval task: our IFEval-OOD task against IFBench's own checks (if-verifiable), strict reading, on the
    constraints whose reference needs no NLTK data (the others: test_rewards_conformance.py). The checks IFBench
    changed since if-verifiable 0.1.2 are compared with the corpus's labels from IFBench db69a6f."""
    import nltk

    monkeypatch.setattr(nltk, "download", lambda *args, **kwargs: False)  # IFBench's import fetches NLTK data
    registry = pytest.importorskip("if_verifiable.ifbench.instructions_registry")
    from tests.test_rewards_conformance import IFBENCH_NLTK_DATA_IDS

    corpus = [json.loads(line) for line in (REPO / "tests/data/rewards/ifbench_corpus.jsonl").open()]
    cases = [r for r in corpus if r["strict"] is not None and r["id"] not in IFBENCH_NLTK_DATA_IDS][::9]
    rows = [{"key": i, "prompt": f"Parity case {i}.", "instruction_id_list": [c["id"]], "kwargs": [c["kwargs"]]}
            for i, c in enumerate(cases)]  # fmt: skip
    write(local / "allenai/IFBench_test/train.jsonl", rows)
    respond = responder({f"Parity case {i}.": c["response"] for i, c in enumerate(cases)})
    with lm_eval_bridge.TaskLibrary(local) as library:
        ours = per_doc_scores(library, "tulu3_ifeval_ood", respond, "tulu_prompt_level_strict_acc", "none")

    def reference(case: dict) -> float:
        if "strict_if_verifiable" in case:  # a check IFBench changed after if-verifiable 0.1.2: its own label
            return float(case["strict"])
        checker = registry.INSTRUCTION_DICT[case["id"]](case["id"])
        checker.build_description(**case["kwargs"])
        try:
            return float(bool(case["response"].strip() and checker.check_following(case["response"])))
        except Exception:  # a crashing reference check counts as not followed (as in the stored corpus)
            return 0.0

    theirs = {i: reference(c) for i, c in enumerate(cases)}
    assert len({c["id"] for c in cases}) >= 30
    assert ours == theirs and 0 < sum(ours.values()) < len(ours)
