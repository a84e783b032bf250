"""`prepare`: validate and tokenize a fit config's data into the prepared store (`prepared.py`), and nothing
else: run it once before a multi-node job (or on each node's own disk) so no rank waits for it at start. A second
run with the same key finds the store; every bad row is printed as `<file>:<row>: <problem>` (exit code 2)."""

from __future__ import annotations

import importlib
import sys
import time


def configure_parser(parser) -> None:
    parser.add_argument(
        "--config", required=True, help="YAML config of a `fit` run (its data, model, limits)"
    )
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. data.num_proc=16")


def describe_config(args) -> str:
    """Every field of the `fit` config `--config` fills in, with its value there."""
    from tulu_lightning.config_docs import describe_run_config

    return describe_run_config(args.config, args.overrides)


def run(args) -> int:
    from tulu_lightning.config import ConfigError
    from tulu_lightning.objectives import OBJECTIVES
    from tulu_lightning.schemas import RowErrors
    from tulu_lightning.train import load_run_config

    cfg = load_run_config(args.config, args.overrides)
    objective = importlib.import_module(OBJECTIVES[cfg.objective][0])
    if not hasattr(objective, "prepare_data"):
        raise ConfigError(
            f"prepare: objective {cfg.objective!r} reads its rows at start (sft, dpo, reward_model, grpo and ppo are prepared)"
        )
    started = time.perf_counter()
    try:
        store = objective.prepare_data(cfg, objective.build_tokenizer(cfg))  # a tiny one reads the rows too
    except RowErrors as err:
        for problem in err.problems:
            print(problem)
        print(f"error: {len(err.problems)} bad row{'s' * (len(err.problems) != 1)}", file=sys.stderr)
        return 2
    what = "prepared" if store.prepared_here else "found"
    counts = ", ".join(f"{name} {value}" for name, value in store.counts.items())
    print(
        f"{what}: {store.directory} ({len(store.train)} training and {len(store.val)} validation examples; "
        f"{counts}; {time.perf_counter() - started:.1f} s)"
    )
    return 0
