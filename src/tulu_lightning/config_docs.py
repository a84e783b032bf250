"""Every field of a config, documented from one source: the comments beside (or just above) each field in the
config dataclasses' own source code. `fit --help --config X.yaml` and `configs show` print them with the
field's type, default and, for a YAML file, its value there.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import io
import textwrap
import tokenize
import typing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from tulu_lightning.config import ConfigError, load_yaml, merge_config


@dataclass(frozen=True)
class FieldDoc:
    key: str  # dotted, as in overrides: optim.lr
    type: str  # as annotated: float | None
    default: Any  # MISSING when required
    comment: str
    section: bool = False  # a nested config (its fields follow)


def field_docs(schema: type, prefix: str = "", defaults: Any = None) -> list[FieldDoc]:
    """The fields of the config dataclass `schema`, depth first; a nested config is listed, then its fields.
    Defaults are read from `defaults` (an instance; `schema()` when not given), so a section whose factory
    sets its own values (GRPO's `rlvr.samples_per_prompt=8`) shows those."""
    hints = typing.get_type_hints(schema)
    defaults = _default_instance(schema) if defaults is None else defaults
    docs = []
    for f in dataclasses.fields(schema):
        key, comment = prefix + f.name, _comment(schema, f.name)
        default = getattr(defaults, f.name) if defaults is not None else _field_default(f)
        nested = _dataclass_in(hints[f.name])
        if nested is None:
            docs.append(FieldDoc(key, str(f.type), default, comment))
            continue
        shown = default if default is None else dataclasses.MISSING  # a section is listed by its fields
        docs.append(FieldDoc(key, str(f.type), shown, comment or class_docstring(nested), section=True))
        # an unset optional section (model.tiny) lists the defaults it gets once set
        docs.extend(
            field_docs(nested, key + ".", default if default is not None else _default_instance(nested))
        )
    return docs


def _field_default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _default_instance(schema: type) -> Any:
    try:
        return schema()
    except TypeError:  # a field without a default
        return None


def _dataclass_in(annotation: Any) -> type | None:
    """The dataclass a section's annotation holds (`X` or `X | None`; not a list of them), else None."""
    candidates = [annotation]
    if type(None) in typing.get_args(annotation):  # Optional: X | None
        candidates = list(typing.get_args(annotation))
    for candidate in candidates:
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return candidate
    return None


def class_docstring(cls: type) -> str:
    """The first paragraph of the docstring written in `cls`'s source ("" without one: a dataclass's
    generated `__doc__` is its signature, not a description)."""
    written = ast.get_docstring(ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0]) or ""
    return " ".join(written.split("\n\n")[0].split())


def _comment(schema: type, name: str) -> str:
    """The comment of field `name`, from the first class of `schema`'s MRO that comments it (a subclass that
    only changes a default, `objective: str = "sft"`, keeps its parent's comment)."""
    for owner in schema.__mro__:
        if dataclasses.is_dataclass(owner) and (comment := class_comments(owner).get(name)):
            return comment
    return ""


@cache
def class_comments(cls: type) -> dict[str, str]:
    """Field name -> its comment in `cls`'s source: the comment lines just above the field (no blank line
    between) followed by any comment on the field's own lines."""
    source = textwrap.dedent(inspect.getsource(cls))
    lines = source.splitlines()
    comments = {
        token.start[0]: token.string.lstrip("#").strip()
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    found = {}
    for statement in ast.parse(source).body[0].body:
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        above, line = [], statement.lineno - 1
        while line >= 1 and lines[line - 1].lstrip().startswith("#"):
            above.insert(0, comments[line])
            line -= 1
        inside = [comments[n] for n in range(statement.lineno, statement.end_lineno + 1) if n in comments]
        found[statement.target.id] = " ".join(above + inside)
    return found


# --- which schema, and the values of a YAML file ------------------------------------------------------


def objective_schema(objective: str) -> type:
    """The config class of a `fit` objective (`sft`, `dpo`, ...)."""
    from tulu_lightning.objectives import OBJECTIVES

    if objective not in OBJECTIVES:
        raise ConfigError(f"objective: expected one of {', '.join(OBJECTIVES)}, got {objective!r}")
    module_name, class_name = OBJECTIVES[objective]
    return getattr(importlib.import_module(module_name), class_name)


def run_config_schema(path: str | Path) -> type:
    """The config class a `fit` YAML file fills in (by its `objective:`)."""
    objective = load_yaml(path).get("objective")
    if objective is None:
        raise ConfigError(f"{path}: no `objective:` key (sft, dpo, reward_model, grpo, ppo, prompt_tuning)")
    return objective_schema(str(objective))


def describe_run_config(path: str | Path, overrides: list[str] | None = None) -> str:
    """`describe` for a `fit` YAML file (the config class its objective names)."""
    return describe(run_config_schema(path), path, overrides)


# the configs of the commands that are not a single `fit` objective
COMMAND_SCHEMAS = {
    "waywardness": ("tulu_lightning.waywardness", "WaywardnessConfig"),
    "eval": ("tulu_lightning.evaluation.config", "EvalConfig"),
    "decontaminate": ("tulu_lightning.decontam", "DecontamConfig"),
}


def command_schema(command: str) -> type:
    module_name, class_name = COMMAND_SCHEMAS[command]
    return getattr(importlib.import_module(module_name), class_name)


def schema_named(name: str) -> type:
    """The config class of an objective (`sft`, ...) or of a command (`waywardness`, `eval`, `decontaminate`)."""
    if name in COMMAND_SCHEMAS:
        return command_schema(name)
    from tulu_lightning.objectives import OBJECTIVES

    if name not in OBJECTIVES:
        known = ", ".join([*OBJECTIVES, *COMMAND_SCHEMAS])
        raise ConfigError(f"no config named {name!r}: expected an objective or a command, one of {known}")
    return objective_schema(name)


def command_of(path: str | Path) -> str:
    """The command a YAML file is a config of: `fit`, `waywardness`, `eval` or `decontaminate` (the last two by
    the folder they are in, configs/eval and configs/decontam); "" when it cannot tell."""
    data = load_yaml(path)
    if "sweep" in data:
        return "waywardness"
    if "objective" in data:
        return "fit"
    folders = Path(path).parent.parts[-1:]
    return {"eval": "eval", "decontam": "decontaminate"}.get(folders[0] if folders else "", "")


def file_schema(path: str | Path) -> type:
    """The config class a YAML file fills in."""
    command = command_of(path)
    if command == "fit":
        return run_config_schema(path)
    if command:
        return command_schema(command)
    raise ConfigError(
        f"{path}: cannot tell which command reads it (no `objective:`); try `<command> --help --config {path}`"
    )


def describe(schema: type, path: str | Path | None = None, overrides: list[str] | None = None) -> str:
    """Every field of `schema` with its type, default and comment; with `path`, also its value in that YAML
    file (merged with `overrides` and type-checked, without the start-up checks of files and ranges)."""
    values = None
    if path is not None:
        values = merge_config(schema, load_yaml(path), overrides, source=str(path))
    title = f"fields of {schema.__name__} ({schema.__module__})"
    if path is not None:
        title += f"; `=` default, `->` the value in {path}"
    lines = [title + ":"]
    for doc in field_docs(schema):
        head = f"  {doc.key}: {doc.type}"
        if doc.section and doc.default is None:
            head += " = None"
        if not doc.section:
            head += f" = {_show(doc.default)}"
            if values is not None:
                value = _lookup(values, doc.key)
                head += f"  -> {_show(value)}" if value is not _ABSENT else "  -> (section unset)"
        lines.append(head)
        if doc.comment:
            lines.extend("      " + line for line in textwrap.wrap(doc.comment, 100))
    return "\n".join(lines) + "\n"


_ABSENT = object()


def _lookup(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        if cfg is None:
            return _ABSENT
        cfg = getattr(cfg, part)
    return cfg


def _show(value: Any) -> str:
    if value is MISSING or value is dataclasses.MISSING:
        return "(required)"
    if dataclasses.is_dataclass(value):
        return "{...}"
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > MAX_VALUE_CHARS:  # a long list of files or specs: its start and its length
        size = f", {len(value)} items" if isinstance(value, (list, dict)) else ""
        text = f"{text[: MAX_VALUE_CHARS - 20]}... ({len(text)} characters{size})"
    return text


MAX_VALUE_CHARS = 160


__all__ = [
    "COMMAND_SCHEMAS",
    "FieldDoc",
    "class_comments",
    "class_docstring",
    "command_of",
    "command_schema",
    "describe",
    "describe_run_config",
    "field_docs",
    "file_schema",
    "objective_schema",
    "run_config_schema",
    "schema_named",
]
