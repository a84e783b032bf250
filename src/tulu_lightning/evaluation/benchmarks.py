"""The suites' benchmark texts, read through the same lm-eval task definitions `eval` runs, for decontamination.

`decontaminate --benchmarks tulu3_dev,tulu3_unseen` matches training data against exactly the questions the
suites evaluate: each task is built as `eval` builds it (same dataset, split and document processing, from the
local copies under `local_data` or from the hub), and each evaluated document gives the text its task names
for decontamination (`doc_to_decontamination_query`: the question, not the prompt template around it, whose
boilerplate would otherwise match every training row that quotes it). A document's id is `<task>:<index>`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from tulu_lightning.evaluation.suites import resolve_suites


def decontamination_text(task, doc: dict) -> str:
    """The text of `doc` that training data is matched against (lm-eval's `doc_to_decontamination_query`,
    rendered as a template when it is not a field name; the prompt when the task names none)."""
    from lm_eval.utils import apply_template

    query = task.config.doc_to_decontamination_query if task.config.should_decontaminate else None
    if query is None:
        text = task.doc_to_text(doc)
    elif callable(query):
        text = query(doc)
    elif query in doc:
        text = doc[query]
    else:
        text = apply_template(query, doc)
    return text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)


def suite_documents(
    suites: str | list[str], local_data: str | Path | None = None
) -> Iterator[tuple[str, str, str]]:
    """(benchmark, id, text) for every evaluated document of the suites' tasks; the benchmark is the name a task
    is reported under (gsm8k, bbh, ...). A task whose data cannot be read raises a ValueError naming it."""
    from tulu_lightning.evaluation.lm_eval_bridge import TaskLibrary

    with TaskLibrary(local_data) as library:
        for suite in resolve_suites(suites):
            for task in suite.tasks:
                try:
                    loaded = library.load([task.task])
                except Exception as err:  # the dataset is missing, offline, gated, ...
                    first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                    raise ValueError(
                        f"{suite.prefix}/{task.name}: cannot read its benchmark data: {first}"
                    ) from None
                for leaf_name, leaf in sorted(loaded["tasks"].items()):
                    for index, doc in enumerate(leaf.eval_docs):
                        yield task.name, f"{leaf_name}:{index}", decontamination_text(leaf, doc)


def write_suite_benchmarks(
    suites: str | list[str], local_data: str | Path | None, dest: Path
) -> dict[str, Path]:
    """The suites' documents as one JSONL file per benchmark under `dest` (`{"id", "text"}` rows), the form the
    decontamination index reads. Returns benchmark -> file."""
    dest.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    with contextlib.ExitStack() as stack:
        handles = {}
        for benchmark, doc_id, text in suite_documents(suites, local_data):
            if benchmark not in handles:
                files[benchmark] = dest / f"{benchmark}.jsonl"
                handles[benchmark] = stack.enter_context(open(files[benchmark], "w", encoding="utf-8"))
            handles[benchmark].write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
    return files


__all__ = ["decontamination_text", "suite_documents", "write_suite_benchmarks"]
