"""`recipe`: the Tülu 3 pipeline as one run — SFT → DPO → (reward model →) RLVR → eval, each stage from the
previous stage's export, one MLflow parent run with a nested run per stage, resumable stage by stage
(`tulu_lightning/recipe.py`)."""

from __future__ import annotations

import json
import time
from pathlib import Path


def configure_parser(parser) -> None:
    parser.add_argument("--config", required=True, help="recipe YAML (configs/demo/recipe.yaml)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved recipe and exit")
    parser.add_argument(
        "overrides",
        nargs="*",
        help="key=value on the recipe (output_dir=...) or STAGE:key=value on one stage",
    )


def run(args) -> int:
    from tulu_lightning.config import to_yaml
    from tulu_lightning.errors import OutputError
    from tulu_lightning.recipe import RECIPE_STATE, is_lead, load_recipe, run_recipe, summary

    started = time.perf_counter()
    cfg, stages = load_recipe(args.config, args.overrides)
    if args.print_config:
        print(to_yaml(cfg))
        return 0
    out = Path(cfg.output_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output_dir {out}: exists and is not a directory")
    results = run_recipe(cfg, stages, config_file=args.config)
    if not is_lead():
        return 0
    state = out / RECIPE_STATE
    parent = json.loads(state.read_text()).get("parent_run_id") if state.is_file() else None
    print(summary(cfg, results, parent, time.perf_counter() - started))
    return 0
