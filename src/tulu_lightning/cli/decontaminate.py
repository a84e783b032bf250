"""`python -m tulu_lightning decontaminate`: n-gram decontamination of training files against benchmarks.

Writes to --out: `report.json` and `report.txt` (per dataset × benchmark: overlap %, verdict),
`contaminated.jsonl` (each contaminated training row with its matched benchmark instances), `index.bin`
(the benchmark index, reusable with --index) and `clean/<file>` (each training file without its
contaminated rows). Inputs are never written: --out must be new or empty (or --overwrite), no output may be an
input, and every output is written whole, then renamed into place. The run is logged to MLflow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tulu_lightning.config import ConfigError, load_yaml, merge_config
from tulu_lightning.decontam import DataSpec, DecontamConfig, FileScan
from tulu_lightning.errors import CLIError
from tulu_lightning.files import atomic_open, atomic_path, check_outputs, prepare_output_dir, write_text

MAX_MALFORMED_SHOWN = 10


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config (configs/decontam/*.yaml)")
    parser.add_argument(
        "--benchmarks", nargs="+", metavar="FILE[:FIELDS]", default=[],
        help="benchmark files with the comma-separated fields to match, e.g. gsm8k.jsonl:question, or the "
        "eval suites, e.g. tulu3_dev,tulu3_unseen (their questions, local copies from benchmark_data=DIR)",
    )  # fmt: skip
    parser.add_argument(
        "--train", nargs="+", metavar="FILE[:FIELDS]", default=[],
        help="training files (JSONL, .jsonl.gz, .jsonl.zst, Parquet); fields default to the user turns",
    )  # fmt: skip
    parser.add_argument("--out", help="output directory, new or empty (default: out_dir of the config)")
    parser.add_argument("--overwrite", action="store_true", help="write into a non-empty --out directory")
    parser.add_argument("--index", help="a saved index (index.bin) to use instead of reading benchmarks")
    parser.add_argument("-n", type=int, help="n-gram length (default 8)")
    parser.add_argument("--fail-on-malformed", action="store_true", help="a malformed JSON line is fatal")
    parser.add_argument("--no-clean", action="store_true", help="do not write cleaned copies")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="config overrides (before --benchmarks/--train)"
    )


def describe_config(args: argparse.Namespace) -> str:
    from tulu_lightning.config_docs import command_schema, describe

    return describe(command_schema("decontaminate"), args.config, args.overrides)


def parse_spec(text: str, name: str | None = None) -> DataSpec:
    """`[name=]path[:field,field...]`; a path that exists as written is never split."""
    if "=" in text.split(":")[0] and not Path(text).exists():
        name, text = text.split("=", 1)
    path, fields = text, []
    if not Path(text).exists() and ":" in text:
        path, field_text = text.rsplit(":", 1)
        fields = [f.strip() for f in field_text.split(",") if f.strip()]
    return DataSpec(path=path, fields=fields, name=name)


def benchmark_specs(text: str, cfg: DecontamConfig) -> list[DataSpec]:
    """A `FILE[:FIELDS]` spec, or suite names (`tulu3_dev,tulu3_unseen`): the questions those suites evaluate,
    read through their lm-eval task definitions (local copies under `cfg.benchmark_data`, else the hub) into
    one temporary JSONL file per benchmark."""
    from tulu_lightning.evaluation.suites import is_suite_list

    if Path(text).exists() or not is_suite_list(text):
        return [parse_spec(text)]
    import atexit
    import shutil
    import tempfile

    from tulu_lightning.evaluation.benchmarks import write_suite_benchmarks

    dest = Path(tempfile.mkdtemp(prefix="tulu_suite_benchmarks_"))
    atexit.register(shutil.rmtree, dest, ignore_errors=True)
    try:
        files = write_suite_benchmarks(text, cfg.benchmark_data, dest)
    except (ValueError, ImportError) as err:
        raise ConfigError(f"--benchmarks {text}: {err}") from None
    return [DataSpec(path=str(path), fields=["text"], name=name) for name, path in files.items()]


def load_config(args: argparse.Namespace) -> DecontamConfig:
    data = load_yaml(args.config) if args.config else {}
    cfg = merge_config(DecontamConfig, data, args.overrides, source=args.config or "config")
    if args.benchmarks:
        cfg.benchmarks = [spec for s in args.benchmarks for spec in benchmark_specs(s, cfg)]
    if args.train:
        cfg.train = [parse_spec(s) for s in args.train]
    cfg.out_dir = args.out or cfg.out_dir
    cfg.index = args.index or cfg.index
    cfg.n = args.n or cfg.n
    cfg.skip_malformed = cfg.skip_malformed and not args.fail_on_malformed
    cfg.write_clean = cfg.write_clean and not args.no_clean
    cfg.progress = cfg.progress and not args.no_progress
    _validate(cfg)
    return cfg


def _validate(cfg: DecontamConfig) -> None:
    if not cfg.train:
        raise ConfigError("no training files: give --train FILE[:FIELDS] or `train:` in the config")
    if not cfg.benchmarks and not cfg.index:
        raise ConfigError("no benchmarks: give --benchmarks FILE:FIELDS, `benchmarks:` or --index")
    for key, specs in (("benchmarks", cfg.benchmarks), ("train", cfg.train)):
        for i, spec in enumerate(specs):
            if not Path(spec.path).is_file():
                raise ConfigError(f"{key}[{i}]: file not found: {spec.path}")
    for i, spec in enumerate(cfg.benchmarks):
        if not spec.fields:
            raise ConfigError(
                f"benchmarks[{i}]: no fields for {spec.path} (write it as {spec.path}:question)"
            )
    if not 1 <= cfg.n <= 64:
        raise ConfigError(f"n: must be between 1 and 64, got {cfg.n}")
    for key in ("instance_threshold", "dataset_threshold"):
        if not 0.0 <= getattr(cfg, key) < 1.0:
            raise ConfigError(f"{key}: must be in [0, 1), got {getattr(cfg, key)}")
    labels = [spec.label for spec in cfg.train]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"train: two files share a name ({labels}); set `name:` for each")
    names = [Path(spec.path).name for spec in cfg.train]
    if cfg.write_clean and len(set(names)) != len(names):
        raise ConfigError(f"train: two files share a file name ({names}); their cleaned copies would collide")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    if cfg.threads:
        os.environ["RAYON_NUM_THREADS"] = str(cfg.threads)  # read when the native pool is first built
    from tulu_lightning.tracking import mlflow_run

    check_outputs(output_paths(cfg), input_paths(cfg, args.config))
    prepare_output_dir(cfg.out_dir, overwrite=args.overwrite, option="--out")
    run_id = None
    with mlflow_run(cfg.tracking, cfg, run_name="decontaminate") as mlflow:
        report = decontaminate(cfg)
        if mlflow is not None:
            _log_to_mlflow(mlflow, report, Path(cfg.out_dir))
            run_id = mlflow.active_run().info.run_id
    print(format_table(report))
    print(decontam_summary(cfg, report, run_id))
    return 0


def decontam_summary(cfg: DecontamConfig, report: dict[str, Any], run_id: str | None) -> str:
    """The closing paragraph: verdicts, contaminated rows and where the reports and clean copies are."""
    from tulu_lightning.terminal import summary

    out = Path(cfg.out_dir)
    contaminated = [r for r in report["results"] if r["contaminated"]]
    rows = sum(d["contaminated_rows"] for d in report["datasets"])
    outputs = {"report": out / "report.txt", "contaminated rows": out / "contaminated.jsonl"}
    if cfg.write_clean:
        outputs["clean copies"] = out / "clean"
    return summary(
        f"decontamination: {len(contaminated)} of {len(report['results'])} dataset × benchmark pairs "
        f"contaminated, {rows} training rows matched",
        outputs,
        None,
        run_id,
        cfg.tracking.uri if cfg.tracking.enabled else None,
    )


def output_paths(cfg: DecontamConfig) -> list[Path]:
    """Every file the job writes under `out_dir`."""
    out = Path(cfg.out_dir)
    paths = [out / "report.json", out / "report.txt", out / "contaminated.jsonl"]
    paths += [] if cfg.index else [out / "index.bin"]
    paths += [clean_path(cfg, spec) for spec in cfg.train] if cfg.write_clean else []
    return paths


def input_paths(cfg: DecontamConfig, config_file: str | None = None) -> list[str | None]:
    return [
        *(spec.path for spec in cfg.benchmarks),
        *(spec.path for spec in cfg.train),
        cfg.index,
        config_file,
    ]


def clean_path(cfg: DecontamConfig, spec: DataSpec) -> Path:
    return Path(cfg.out_dir) / "clean" / Path(spec.path).name


def decontaminate(cfg: DecontamConfig) -> dict[str, Any]:
    """Runs the whole job described by `cfg` and writes its outputs; returns the report. The caller checks
    first that no output is an input (`output_paths`, `input_paths`)."""
    from tulu_lightning import decontam

    out = Path(cfg.out_dir)
    try:
        start = time.perf_counter()
        if cfg.index:
            index = decontam.load_index(cfg.index, n=cfg.n, seed=cfg.seed)
        else:
            index = decontam.build_index(
                cfg.benchmarks, n=cfg.n, seed=cfg.seed, skip_malformed=cfg.skip_malformed
            )
            with atomic_path(out / "index.bin") as temporary:
                index.save(str(temporary))
        index_seconds = time.perf_counter() - start
        scans: dict[str, FileScan] = {}
        for spec in cfg.train:
            if cfg.write_clean:
                with atomic_path(clean_path(cfg, spec)) as temporary:
                    scans[spec.label] = _scan_with_progress(index, spec, cfg, str(temporary))
            else:
                scans[spec.label] = _scan_with_progress(index, spec, cfg, None)
    except (OSError, ValueError) as err:
        raise CLIError(str(err)) from None
    report = build_report(cfg, index, scans, index_seconds)
    write_outputs(out, report, index, scans)
    return report


def _scan_with_progress(index, spec: DataSpec, cfg: DecontamConfig, clean: str | None) -> FileScan:
    from tqdm import tqdm

    from tulu_lightning import decontam

    total = os.path.getsize(spec.path) if spec.path.endswith(".jsonl") else None
    bar = tqdm(
        total=total, unit="B", unit_scale=True, desc=spec.label,
        disable=not cfg.progress, file=sys.stderr, dynamic_ncols=True,
    )  # fmt: skip
    docs, start = 0, time.perf_counter()

    def on_progress(batch_docs: int, batch_bytes: int) -> None:
        nonlocal docs
        docs += batch_docs
        bar.update(batch_bytes)
        bar.set_postfix(docs=docs, docs_per_s=f"{docs / max(time.perf_counter() - start, 1e-9):,.0f}")

    try:
        scan = decontam.scan_file(index, spec, cfg, clean, on_progress)
    finally:
        bar.close()
    for line, message in scan.malformed[:MAX_MALFORMED_SHOWN]:
        print(f"warning: {spec.path}:{line}: {message} (skipped)", file=sys.stderr)
    if len(scan.malformed) > MAX_MALFORMED_SHOWN:
        print(f"warning: {spec.path}: {len(scan.malformed)} malformed lines skipped in all", file=sys.stderr)
    return scan


def build_report(
    cfg: DecontamConfig, index, scans: dict[str, FileScan], index_seconds: float
) -> dict[str, Any]:
    from tulu_lightning import decontam

    counts: dict[str, int] = {}
    for benchmark, *_ in index.instances():
        counts[benchmark] = counts.get(benchmark, 0) + 1
    return {
        "normalizer_version": index.normalizer_version,
        "n": index.n,
        "seed": index.seed,
        "instance_threshold": cfg.instance_threshold,
        "dataset_threshold": cfg.dataset_threshold,
        "index": {"instances": len(index), "ngrams": index.num_ngrams, "seconds": round(index_seconds, 3)},
        "benchmarks": [{"name": name, "instances": count} for name, count in counts.items()],
        "datasets": [
            {
                "name": name,
                "path": scan.path,
                "docs": scan.docs,
                "bytes": scan.bytes,
                "seconds": round(scan.seconds, 3),
                "mb_per_s": round(scan.bytes / 1e6 / max(scan.seconds, 1e-9), 2),
                "contaminated_rows": len(scan.contaminated),
                "malformed_lines": len(scan.malformed),
                "malformed": [{"line": line, "message": msg} for line, msg in scan.malformed[:1000]],
            }
            for name, scan in scans.items()
        ],
        "results": decontam.decide(index, scans, cfg.dataset_threshold),
    }


def format_table(report: dict[str, Any]) -> str:
    header = f"{'dataset':<24} {'benchmark':<20} {'overlap':>9} {'instances':>13}  verdict"
    lines = [header, "-" * len(header)]
    for r in report["results"]:
        verdict = "CONTAMINATED" if r["contaminated"] else "clean"
        counts = f"{r['overlapping_instances']}/{r['instances']}"
        lines.append(
            f"{r['dataset']:<24} {r['benchmark']:<20} {r['overlap_pct']:>8.2f}% {counts:>13}  {verdict}"
        )
    threshold = 100 * report["dataset_threshold"]
    lines.append(
        f"(n={report['n']}; contaminated when more than {threshold:g}% of a benchmark's instances overlap)"
    )
    return "\n".join(lines)


def write_outputs(out: Path, report: dict[str, Any], index, scans: dict[str, FileScan]) -> None:
    instances = index.instances()
    write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    write_text(out / "report.txt", format_table(report) + "\n")
    with atomic_open(out / "contaminated.jsonl") as f:
        for dataset, scan in scans.items():
            for row in scan.contaminated:
                matches = [
                    {"benchmark": instances[m.instance][0], "instance_id": instances[m.instance][1]}
                    | {k: v for k, v in asdict(m).items() if k != "instance"}
                    for m in row.matches
                ]
                record = {
                    "dataset": dataset,
                    "path": scan.path,
                    "line": row.line,
                    "id": row.id,
                    "matches": matches,
                }
                f.write(json.dumps(record, ensure_ascii=False) + "\n")


def _log_to_mlflow(mlflow: Any, report: dict[str, Any], out: Path) -> None:
    metrics = {"index.instances": report["index"]["instances"], "index.ngrams": report["index"]["ngrams"]}
    for d in report["datasets"]:
        for key in ("docs", "bytes", "mb_per_s", "contaminated_rows", "malformed_lines"):
            metrics[f"{_metric_name(d['name'])}.{key}"] = d[key]
    for r in report["results"]:
        pair = f"{_metric_name(r['dataset'])}.{_metric_name(r['benchmark'])}"
        metrics[f"{pair}.overlap_pct"] = r["overlap_pct"]
        metrics[f"{pair}.contaminated"] = float(r["contaminated"])
    mlflow.log_metrics(metrics)
    for name in ("report.json", "report.txt", "contaminated.jsonl"):
        mlflow.log_artifact(str(out / name))


def _metric_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
