"""`check`: read and validate every row of a config's data through `prepare`'s own code path (the same reading,
the same validator, so the two cannot disagree), without a tokenizer, a model or a store; every bad row is printed
as `<file>:<row>: <problem>` (exit code 2 when there is one). Only what tokenizing finds (a turn the chat template
cannot locate) is left to `prepare`."""

from __future__ import annotations

import importlib
import sys
import time


def configure_parser(parser) -> None:
    parser.add_argument("--config", required=True, help="YAML config of a `fit` run")
    parser.add_argument(
        "overrides", nargs="*", help="dotted key=value overrides, e.g. data.train_files=[x.jsonl]"
    )


def describe_config(args) -> str:
    """Every field of the `fit` config `--config` fills in, with its value there."""
    from tulu_lightning.config_docs import describe_run_config

    return describe_run_config(args.config, args.overrides)


def check_data(cfg) -> int:
    """Validate the rows of `cfg`'s training and validation data; print every problem; 0 if there is none."""
    from tulu_lightning.data import DataError
    from tulu_lightning.objectives import OBJECTIVES
    from tulu_lightning.prepared import check_rows
    from tulu_lightning.schemas import RowErrors

    objective = importlib.import_module(OBJECTIVES[cfg.objective][0])
    if not hasattr(objective, "recipe"):
        print(f"error: objective {cfg.objective!r} has no row schema to check", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:  # `prepare`'s own reading and validation, without tokenizing (prepared.check_rows)
        train_rows, val_rows = check_rows(
            cfg.data, objective.recipe(cfg), cfg.data.prepared_dir, cfg.data.num_proc
        )
    except RowErrors as err:
        for problem in err.problems:
            print(problem)
        print(f"error: {len(err.problems)} bad row{'s' * (len(err.problems) != 1)}", file=sys.stderr)
        return 2
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    print(f"ok: {train_rows} training and {val_rows} validation rows ({seconds:.2f} s)")
    return 0


def run(args) -> int:
    from tulu_lightning.train import load_run_config

    return check_data(load_run_config(args.config, args.overrides))
