"""Rows of the published Tülu 3 datasets, validated and normalised at load, before any model is built.

    sft         allenai/tulu-3-sft-mixture: `messages`, system, user and assistant turns (`id`, `source` unused)
    preference  allenai/llama-3.1-tulu-3-8b-preference-mixture: `chosen` and `rejected` whole conversations that
                already hold the prompt turns (`prompt` is then redundant and unused: open-instruct's dpo_tune.py
                keeps only `chosen`/`rejected`); or the older form, `prompt` (a string or turns) with `chosen` /
                `rejected` holding only the answer (a string or assistant turns)
    prompt      allenai/RLVR-GSM-MATH-IF-Mixed-Constraints: `messages` (the prompt turns), `ground_truth`, and
                `dataset` naming its verifier (`gsm8k`, `MATH`, `ifeval`, ...; any case); `constraint_type` and
                `constraint` describe the IFEval constraint and are unused

Every row is checked (fields present, roles known, contents strings, verifier names known, ground truths parse
for their verifier) and every problem is reported as `<file>:<row>: <what>`, all bad rows at once (`RowErrors`).
A normalised row is a plain dict: turns as `{"role", "content"}` (other message keys dropped), `ground_truth` a
string, `dataset` the verifier's canonical name, and `where` the row's `<file>:<row>` for later messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from tulu_lightning.config import ConfigError
from tulu_lightning.data import DataError, Row
from tulu_lightning.rewards import VERIFIERS, VerifierError, canonical_verifier, ground_truth_errors

ROLES = ("system", "user", "assistant")
TOOL_ROLES = ("tool", "function", "ipython")
SHOWN_PROBLEMS = 3  # problems quoted in the one-line error; `check` lists them all


class RowProblem(ValueError):
    """What is wrong with one row (`normalise_rows` adds where the row is)."""


class RowErrors(DataError):
    """Every bad row of a dataset; `problems` holds one `<file>:<row>: <what>` line per bad row."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "; ".join(problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        hint = (
            f" (and {more} more; `python -m tulu_lightning check --config ...` lists them all)"
            if more > 0
            else ""
        )
        super().__init__(f"{len(problems)} bad row{'s' * (len(problems) != 1)}: {shown}{hint}")


@dataclass(frozen=True)
class Schema:
    """How to read one split's rows: `kind` is sft | preference | prompt; `verifiable` rows also need a
    `ground_truth` checked by their `dataset` verifier, or by `default_verifier` (prompt rows always do)."""

    kind: str
    verifiable: bool = False
    default_verifier: str = "gsm8k"
    default_key: str = "eval.verifier"  # the config key `default_verifier` comes from (for its error)

    @property
    def needs_ground_truth(self) -> bool:
        return self.verifiable or self.kind == "prompt"


# --- one row -----------------------------------------------------------------------------------------------


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def chat_turns(value: object, field: str) -> list[dict]:
    """A list of `{"role", "content"}` turns with known roles and string contents."""
    if not isinstance(value, list):
        raise RowProblem(f"{field!r} must be a list of messages, got {_type_name(value)}")
    if not value:
        raise RowProblem(f"{field!r} has no messages")
    turns = []
    for i, message in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(message, dict):
            raise RowProblem(f"{where} must be a {{'role', 'content'}} object, got {_type_name(message)}")
        if "role" not in message:
            raise RowProblem(f"{where} has no 'role'")
        role = message["role"]
        if role in TOOL_ROLES or message.get("tool_calls"):
            what = f"role {role!r}" if role in TOOL_ROLES else f"'tool_calls' in a {role!r} turn"
            raise RowProblem(
                f"{where} is a tool-calling turn ({what}); only system, user and assistant turns are supported"
            )
        if role not in ROLES:
            raise RowProblem(f"{where} has unknown role {role!r} (expected system, user or assistant)")
        if "content" not in message:
            raise RowProblem(f"{where} ({role}) has no 'content'")
        content = message["content"]
        if not isinstance(content, str):
            raise RowProblem(f"{where} ({role}) content must be a string, got {_type_name(content)}")
        turns.append({"role": role, "content": content})
    return turns


def _field(fields: dict, name: str) -> object:
    if name not in fields:
        raise RowProblem(f"no field {name!r} (fields: {sorted(fields)})")
    return fields[name]


def sft_row(fields: dict) -> dict:
    messages = chat_turns(_field(fields, "messages"), "messages")
    if not any(turn["role"] == "assistant" for turn in messages):
        raise RowProblem("'messages' has no assistant turn to train on")
    return {"messages": messages}


def _side(fields: dict, side: str) -> list[dict]:
    """One side of a preference pair as a whole conversation: as it is when it holds the prompt turns (then
    `prompt` is not used), else `prompt` followed by the answer."""
    value = _field(fields, side)
    turns = [{"role": "assistant", "content": value}] if isinstance(value, str) else chat_turns(value, side)
    if all(turn["role"] == "assistant" for turn in turns):
        turns = _prompt(fields, side) + turns
    if turns[-1]["role"] != "assistant":
        raise RowProblem(f"{side!r} must end with an assistant turn, not a {turns[-1]['role']} turn")
    return turns


def _prompt(fields: dict, side: str) -> list[dict]:
    prompt = fields.get("prompt")
    if prompt is None:
        raise RowProblem(f"{side!r} holds only the answer, so the row needs a 'prompt'")
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if not isinstance(prompt, list):
        raise RowProblem(f"'prompt' must be a string or a list of messages, got {_type_name(prompt)}")
    return chat_turns(prompt, "prompt")


def preference_row(fields: dict) -> dict:
    chosen, rejected = _side(fields, "chosen"), _side(fields, "rejected")
    if chosen[:-1] != rejected[:-1]:
        raise RowProblem(
            "'chosen' and 'rejected' differ before their last turn (they must answer the same prompt)"
        )
    return {"chosen": chosen, "rejected": rejected}


def prompt_turns(messages: list[dict]) -> list[dict]:
    """The conversation up to (not including) its trailing assistant turns."""
    end = len(messages)
    while end and messages[end - 1]["role"] == "assistant":
        end -= 1
    return messages[:end]


def prompt_row(fields: dict) -> dict:
    messages = prompt_turns(chat_turns(_field(fields, "messages"), "messages"))
    if not messages or messages[-1]["role"] != "user":
        raise RowProblem(
            "'messages' must end with a user turn (after any assistant turns) to prompt the policy"
        )
    return {"messages": messages}


def ground_truth(fields: dict) -> str:
    """The ground truth as its verifier reads it: text as it is, a number or structured value (a list of labels,
    an object of IFEval arguments) as JSON."""
    value = _field(fields, "ground_truth")
    if value is None:
        raise RowProblem("'ground_truth' is null")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def verifier_name(fields: dict, default: str) -> str:
    """The row's verifier (`dataset`, any case) by its canonical name; `default` when the row names none."""
    name = fields.get("dataset")
    if name is None:
        return default
    if not isinstance(name, str):
        raise RowProblem(f"'dataset' must name a verifier, got {_type_name(name)}")
    try:
        return canonical_verifier(name)
    except VerifierError:
        raise RowProblem(f"unknown verifier {name!r} in 'dataset' (known: {', '.join(VERIFIERS)})") from None


NORMALISERS: dict[str, Callable[[dict], dict]] = {
    "sft": sft_row,
    "preference": preference_row,
    "prompt": prompt_row,
}


def normalise(fields: dict, schema: Schema) -> dict:
    """One row's normalised form; raises `RowProblem` (ground truths are parsed later, in one batch)."""
    if not isinstance(fields, dict):
        raise RowProblem(f"a row must be an object, got {_type_name(fields)}")
    row = NORMALISERS[schema.kind](fields)
    if schema.needs_ground_truth:
        row["ground_truth"] = ground_truth(fields)
        row["dataset"] = verifier_name(fields, schema.default_verifier)
    return row


# --- every row -------------------------------------------------------------------------------------------------


def normalise_rows(rows: Sequence[Row], schema: Schema) -> tuple[list[dict], list[str]]:
    """(normalised rows, one `<file>:<row>: <what>` per bad row), both in the order of `rows`."""
    normalised: dict[int, dict] = {}
    problems: dict[int, str] = {}
    for index, row in enumerate(rows):
        try:
            normalised[index] = {**normalise(row.fields, schema), "where": row.where}
        except RowProblem as err:
            problems[index] = f"{row.where}: {err}"
    problems.update(_ground_truth_problems(normalised))
    good = [row for index, row in normalised.items() if index not in problems]
    return good, [problems[index] for index in sorted(problems)]


def _ground_truth_problems(rows: dict[int, dict]) -> dict[int, str]:
    """Rows whose ground truth does not parse for their verifier (one batched call to the Rust parsers)."""
    verifiable = {index: row for index, row in rows.items() if "ground_truth" in row}
    if not verifiable:
        return {}
    errors = ground_truth_errors(
        [row["dataset"] for row in verifiable.values()], [row["ground_truth"] for row in verifiable.values()]
    )
    return {
        index: f"{row['where']}: ground truth does not parse for verifier {row['dataset']!r}: {error}"
        for (index, row), error in zip(verifiable.items(), errors)
        if error is not None
    }


def validate_splits(splits: Sequence[tuple[Sequence[Row], Schema]]) -> list[list[dict]]:
    """Normalise every split's rows; raise `RowErrors` naming every bad row of every split before any is used."""
    results = [normalise_rows(rows, known_default(schema)) for rows, schema in splits]
    problems = [problem for _, split_problems in results for problem in split_problems]
    if problems:
        raise RowErrors(problems)
    return [rows for rows, _ in results]


def known_default(schema: Schema) -> Schema:
    """`schema` with its default verifier by its canonical name (a config error when there is no such verifier)."""
    if not schema.needs_ground_truth:
        return schema
    try:
        return replace(schema, default_verifier=canonical_verifier(schema.default_verifier))
    except VerifierError:
        raise ConfigError(
            f"{schema.default_key}: unknown verifier {schema.default_verifier!r} (known: {', '.join(VERIFIERS)})"
        ) from None


def row_texts(rows: Sequence[dict]) -> Iterator[str]:
    """Every turn's text of normalised rows (to train a tiny model's tokenizer on)."""
    for row in rows:
        for field in ("messages", "chosen", "rejected"):
            for turn in row.get(field, ()):
                yield turn["content"]
