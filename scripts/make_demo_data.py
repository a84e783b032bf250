"""Write the bundled demo data under data/demo/: synthetic arithmetic word problems as chats.

    python scripts/make_demo_data.py

Files (JSONL): sft_{train,val}.jsonl (`messages`, `ground_truth`), preference_{train,val}.jsonl (`chosen`,
`rejected` message lists, `ground_truth`, `rejected_kind`), rlvr_{train,val}.jsonl (`messages`, `ground_truth`, `dataset`; the training prompts
end with a few IFEval-style ones, `dataset` "ifeval", ground truth in Tülu's `{"func_name": ...}` form, so RLVR
batches mix verifiers). Validation problems never appear, with the same names, objects and numbers, in any
training file. Deterministic (fixed seeds).

The SFT answers come in two styles, as real SFT mixtures do: "... = 7. The answer is 7." and "... = 7. Check:
7 - 3 = 4." (half of them). Both are right, but the GSM8K verifier reads the last number, so only the first is verified:
held-out accuracy after SFT is the model's arithmetic times how often it ends on the answer, and RLVR has a
verifiable signal to learn from beyond arithmetic itself, as on real GSM8K prompts.

A preference pair's chosen answer is right and states the result; its rejected answer makes one of five mistakes
(`REJECTED_KINDS`, a fifth of the pairs each): wrong arithmetic, the wrong operation, a misread operand, a final
answer that contradicts the working, or a right working that never states the answer. The rejected answers draw on
their own random stream, so the SFT and RLVR files do not change with them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

NAMES = [
    "Ava",
    "Ben",
    "Chloe",
    "Dan",
    "Eva",
    "Finn",
    "Gia",
    "Hugo",
    "Ivy",
    "Jack",
    "Kim",
    "Leo",
    "Mia",
    "Noah",
]
OBJECTS = ["apples", "books", "coins", "pens", "stickers", "marbles", "cards", "shells", "stamps", "cookies"]
MAX_OPERAND = 30

# (question, worked answer) templates; {op} is + or -, {c} the result.
ADD_TEMPLATES = [
    (
        "{n} has {a} {o}. {n} buys {b} more {o}. How many {o} does {n} have now?",
        "{n} has {a} + {b} = {c} {o}.",
    ),
    ("There are {a} {o} in a box and {b} {o} in a bag. How many {o} are there in total?", "{a} + {b} = {c}."),
    ("{n} found {a} {o} on Monday and {b} {o} on Tuesday. How many {o} did {n} find?", "{a} + {b} = {c}."),
]
SUB_TEMPLATES = [
    ("{n} has {a} {o} and gives {b} of them away. How many {o} are left?", "{a} - {b} = {c} {o} are left."),
    ("A shelf holds {a} {o}. {n} takes {b} {o}. How many {o} stay on the shelf?", "{a} - {b} = {c}."),
]


def problem(rng: random.Random) -> dict:
    name, obj = rng.choice(NAMES), rng.choice(OBJECTS)
    a, b = rng.randint(0, MAX_OPERAND), rng.randint(0, MAX_OPERAND)
    if rng.random() < 0.5:
        question, worked = rng.choice(ADD_TEMPLATES)
        result = a + b
        check = f"{result} - {b} = {a}"
    else:
        a, b = max(a, b), min(a, b)
        question, worked = rng.choice(SUB_TEMPLATES)
        result = a - b
        check = f"{result} + {b} = {a}"
    wrong_result = wrong(result, rng)
    fill = {"n": name, "o": obj, "a": a, "b": b, "c": result}
    return {
        "key": (question, name, obj, a, b),
        "question": question.format(**fill),
        "answer": worked.format(**fill) + f" The answer is {result}.",
        "checked_answer": worked.format(**fill) + f" Check: {check}.",
        "wrong_answer": worked.format(**{**fill, "c": wrong_result}) + f" The answer is {wrong_result}.",
        "result": result,
        "worked": worked,
        "fill": fill,
    }


def wrong(result: int, rng: random.Random) -> int:
    delta = rng.choice([-3, -2, -1, 1, 2, 3, 10])
    return result + delta if result + delta >= 0 else result + abs(delta)


def unique_problems(rng: random.Random, count: int, exclude: set) -> list[dict]:
    out: list[dict] = []
    while len(out) < count:
        item = problem(rng)
        if item["key"] not in exclude:
            exclude.add(item["key"])
            out.append(item)
    return out


def sft_row(p: dict, styles: random.Random) -> dict:
    """Half the answers end with the result ("The answer is 7."), half with a check of the working that ends on
    an operand ("Check: 7 - 3 = 4."). Both are right, but a verifier that reads the last number (GSM8K's) only
    accepts the first style: the SFT model learns both, and RLVR has to learn to end on the answer."""
    answer = p["answer"] if styles.random() < 0.5 else p["checked_answer"]
    return {
        "messages": [
            {"role": "user", "content": p["question"]},
            {"role": "assistant", "content": answer},
        ],
        "ground_truth": str(p["result"]),
    }


# The mistakes a rejected answer makes, as in real preference data. Each ends on a number other than the result,
# so the GSM8K verifier rejects every one.
REJECTED_KINDS = ("arithmetic", "operation", "misread", "answer", "unstated")


def rejected_answer(p: dict, kind: str, rng: random.Random) -> str:
    """A wrong answer to problem `p`:
    - arithmetic: the working's sum is off ("3 + 4 = 8. The answer is 8.");
    - operation: right arithmetic, wrong operation for the question ("7 + 3 = 10" where 3 are given away);
    - misread: an operand copied wrong from the question, then right arithmetic on it ("3 + 5 = 8" for 3 and 4);
    - answer: right working, a different final answer ("3 + 4 = 7. The answer is 8.");
    - unstated: right working that never states the answer, ending on a check ("3 + 4 = 7. Check: 7 - 4 = 3.")."""
    fill, worked, result = p["fill"], p["worked"], p["result"]
    a, b = fill["a"], fill["b"]
    if kind == "arithmetic":
        return p["wrong_answer"]
    if kind == "operation":
        if " + " in worked:
            worked, result = worked.replace(" + ", " - "), a - b
        else:
            worked, result = worked.replace(" - ", " + "), a + b
        if result == p["result"]:  # b = 0: both operations agree, so misread instead
            return rejected_answer(p, "misread", rng)
        return worked.format(**{**fill, "c": result}) + f" The answer is {result}."
    if kind == "misread":
        misread_b = wrong(b, rng)
        result += misread_b - b if " + " in worked else b - misread_b
        return worked.format(**{**fill, "b": misread_b, "c": result}) + f" The answer is {result}."
    if kind == "answer":
        return worked.format(**fill) + f" The answer is {wrong(result, rng)}."
    if kind == "unstated":
        if b == 0:  # the check would end on the result itself ("7 - 0 = 7")
            return rejected_answer(p, "answer", rng)
        return p["checked_answer"]
    raise ValueError(f"unknown rejected kind {kind!r}")


def preference_row(p: dict, rng: random.Random) -> dict:
    kind = rng.choice(REJECTED_KINDS)
    user = {"role": "user", "content": p["question"]}
    return {
        "chosen": [user, {"role": "assistant", "content": p["answer"]}],
        "rejected": [user, {"role": "assistant", "content": rejected_answer(p, kind, rng)}],
        "ground_truth": str(p["result"]),  # lets `eval` score the policy's own answers to the prompts
        "rejected_kind": kind,
    }


def rlvr_row(p: dict) -> dict:
    return {
        "messages": [{"role": "user", "content": p["question"]}],
        "ground_truth": str(p["result"]),
        "dataset": "gsm8k",
    }


# IFEval-style instructions appended to an arithmetic question, with Tülu's ground-truth JSON.
IFEVAL_CONSTRAINTS = [
    ("Answer without using any commas.", {"func_name": "validate_no_commas"}),
    ("Your entire response should be in lowercase letters.", {"func_name": "validate_lowercase"}),
]


def ifeval_row(p: dict, rng: random.Random) -> dict:
    instruction, truth = rng.choice(IFEVAL_CONSTRAINTS)
    return {
        "messages": [{"role": "user", "content": f"{p['question']} {instruction}"}],
        "ground_truth": json.dumps(truth),
        "dataset": "ifeval",
    }


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(f"wrote {len(rows):5d} rows to {path}")


def main(out_dir: Path = Path("data/demo")) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    seen: set = set()
    val = unique_problems(random.Random(1), 200, seen)  # held out first, so no training file repeats them
    styles = random.Random(6)
    sft_train = unique_problems(random.Random(0), 3000, seen)
    write(out_dir / "sft_train.jsonl", [sft_row(p, styles) for p in sft_train])
    write(out_dir / "sft_val.jsonl", [sft_row(p, styles) for p in val])
    mistakes = random.Random(5)  # its own stream: the SFT and RLVR files do not depend on the preference rows
    write(
        out_dir / "preference_train.jsonl",
        [preference_row(p, mistakes) for p in unique_problems(random.Random(2), 2000, seen)],
    )
    write(out_dir / "preference_val.jsonl", [preference_row(p, mistakes) for p in val])
    rlvr_train = [rlvr_row(p) for p in unique_problems(random.Random(3), 1500, seen)]
    ifeval_rng = random.Random(4)
    rlvr_train += [ifeval_row(p, ifeval_rng) for p in unique_problems(ifeval_rng, 100, seen)]
    write(out_dir / "rlvr_train.jsonl", rlvr_train)
    write(out_dir / "rlvr_val.jsonl", [rlvr_row(p) for p in val])


if __name__ == "__main__":
    main()
