"""`python -m tulu_lightning eval`: Tülu 3's development and unseen suites on lm-evaluation-harness.

    python -m tulu_lightning eval --suite tulu3_dev --model outputs/demo/sft/hf
    python -m tulu_lightning eval --config configs/eval/tulu3_dev.yaml model=allenai/Llama-3.1-Tulu-3-8B
    python -m tulu_lightning eval --write-tasks lm_eval_tasks/   # the task YAMLs, for lm-eval's own CLI

Options given on the command line win over the config file; `key=value` overrides win over both.
"""

from __future__ import annotations

import argparse
import sys
import time


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="evaluation YAML (configs/eval/*.yaml)")
    parser.add_argument("--suite", help="suites to run, comma-separated: tulu3_dev, tulu3_unseen")
    parser.add_argument("--model", help="Hugging Face model directory or hub name")
    parser.add_argument("--backend", choices=["hf", "vllm"], help="lm-eval model backend (default hf)")
    parser.add_argument("--tasks", help="only these tasks of the suites, comma-separated (e.g. gsm8k,math)")
    parser.add_argument("--limit", type=int, help="at most N questions per task (a quick look, not a score)")
    parser.add_argument(
        "--local-data", help="local copies of the benchmark datasets (<dir>/<hub name>/<split>.jsonl)"
    )
    parser.add_argument("--output-dir", help="where metrics.json and the per-question outputs go")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the outputs in a non-empty --output-dir"
    )
    parser.add_argument(
        "--write-tasks",
        metavar="DIR",
        help="write the suites' lm-eval task YAMLs to DIR (for lm_eval --include_path) and exit",
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="config overrides, e.g. judge.base_url=..."
    )


def describe_config(args: argparse.Namespace) -> str:
    from tulu_lightning.config_docs import command_schema, describe

    return describe(command_schema("eval"), args.config, args.overrides)


def run(args: argparse.Namespace) -> int:
    from tulu_lightning.errors import CLIError, ConfigError
    from tulu_lightning.files import check_outputs, existing_inputs, prepare_output_dir

    if args.write_tasks:
        return write_tasks(args.write_tasks)
    if not args.config and not (args.model and args.suite):
        raise ConfigError("give --config FILE, or --suite SUITE and --model DIR")
    from tulu_lightning.evaluation.config import load_eval_config

    cfg = load_eval_config(
        args.config,
        args.overrides,
        model=args.model,
        backend=args.backend,
        suites=args.suite.split(",") if args.suite else None,
        tasks=args.tasks.split(",") if args.tasks else None,
        limit=args.limit,
        local_data=args.local_data,
        output_dir=args.output_dir,
    )
    # The outputs never replace the model, the config or the local benchmark copies, nor an earlier result.
    check_outputs([cfg.output_dir], existing_inputs([cfg.model, args.config, cfg.local_data]))
    prepare_output_dir(cfg.output_dir, overwrite=args.overwrite, option="output_dir")
    # at once: importing lm-eval and loading the model take a while before the first task starts
    what = f"tasks {', '.join(cfg.tasks)} of " if cfg.tasks else ""
    print(
        f"eval: {what}{', '.join(cfg.suites)} on {cfg.model}"
        + (f" (at most {cfg.limit} questions per task)" if cfg.limit else "")
        + "; loading lm-evaluation-harness and the model ...",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    try:
        from tulu_lightning.evaluation.runner import evaluate
    except ImportError as err:
        raise CLIError(
            f"eval needs lm-evaluation-harness: pip install 'tulu_lightning[eval]' ({err})"
        ) from None
    report = evaluate(cfg)
    print(eval_summary(cfg, report, time.perf_counter() - started))
    return 1 if any(o.status == "failed" for o in report.outcomes) else 0


def eval_summary(cfg, report, seconds: float) -> str:
    """The closing paragraph: tasks run, skipped and failed; where the outputs are; the suite means."""
    from pathlib import Path

    from tulu_lightning.terminal import summary

    statuses = [o.status for o in report.outcomes]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses))
    out = Path(cfg.output_dir)
    outputs = {"metrics": out / "metrics.json"}
    if (out / "samples").is_dir():
        outputs["per-question outputs"] = out / "samples"
    if (out / "errors.log").is_file():
        outputs["tracebacks of failed tasks"] = out / "errors.log"
    means = {k: v for k, v in report.metrics.items() if k.endswith("/mean")}
    return summary(
        f"eval of {cfg.model}: {len(statuses)} tasks ({counts}) in {seconds / 60:.1f} min",
        outputs,
        means,
        report.run_id,
        cfg.tracking.uri if cfg.tracking.enabled else None,
    )


def write_tasks(directory: str) -> int:
    from pathlib import Path

    from tulu_lightning.evaluation.lm_eval_bridge import render_tasks

    dest = render_tasks(Path(directory))
    # lm-eval's own CLI, with our metrics and filter registered first (importing the bridge registers them)
    command = "import tulu_lightning.evaluation.lm_eval_bridge; from lm_eval.__main__ import cli_evaluate; cli_evaluate()"
    print(f"wrote the task YAMLs to {dest}; run them with lm-eval's CLI:")
    print(
        f'  python -c "{command}" --include_path {dest} --tasks tulu3_dev --model hf --model_args pretrained=MODEL \\'
    )
    print("    --apply_chat_template --fewshot_as_multiturn")
    return 0
