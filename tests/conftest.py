"""Shared fixtures: a tiny model config on the bundled demo data, with MLflow in a per-test SQLite file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "data" / "demo"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# No test downloads a dataset or model: the benchmark tasks read local fixtures (tests/data/eval).
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def prepared_data_cache(tmp_path_factory) -> Path:
    """Prepared datasets (`prepared.py`) go to one directory of the session, never the user's cache; the fits
    of a session share it, as runs on one machine do (child processes inherit it)."""
    cache = tmp_path_factory.mktemp("tulu_lightning_cache")
    os.environ["TULU_LIGHTNING_CACHE"] = str(cache)
    return cache / "prepared"


TINY_MODEL = {
    "tiny": {
        "vocab_size": 320,
        "hidden_size": 48,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    }
}


def merge_sections(cfg: dict, sections: dict) -> dict:
    """`cfg` with each section's keys updated from `sections` (a non-dict value replaces the section)."""
    for section, values in sections.items():
        if isinstance(values, dict):
            cfg.setdefault(section, {}).update(values)
        else:
            cfg[section] = values
    return cfg


def tiny_config(tmp_path: Path, objective: str, dataset: str, **sections) -> dict:
    """A small, fast config as a dict: the tiny model on the bundled `data/demo/<dataset>_{train,val}.jsonl`, on CPU,
    tracked in `tmp_path` (sections merged with `sections`)."""
    cfg = {
        "objective": objective,
        "model": dict(TINY_MODEL),
        "data": {
            "train_files": [str(DEMO_DATA / f"{dataset}_train.jsonl")],
            "val_files": [str(DEMO_DATA / f"{dataset}_val.jsonl")],
        },
        "optim": {"lr": 1e-3},
        "trainer": {
            "output_dir": str(tmp_path / "run"),
            "micro_batch_size": 4,
            "accelerator": "cpu",
            "log_every_n_steps": 1,
        },
        "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
    }
    return merge_sections(cfg, sections)


def tiny_sft_config(tmp_path: Path, **sections) -> dict:
    """A small, fast SFT config as a dict (sections merged with `sections`)."""
    cfg = tiny_config(
        tmp_path,
        "sft",
        "sft",
        data={"max_train_samples": 96, "max_seq_length": 128},
        optim={"warmup_steps": 2},
        trainer={"max_steps": 6, "val_check_interval": 1.0},
        tracking={"log_model": True},
        sft={"reduction": "mean", "packing": True},
    )
    return merge_sections(cfg, sections)


def tiny_preference_config(tmp_path: Path, objective: str, **sections) -> dict:
    """A small, fast DPO or reward-model config on the bundled preference pairs, as a dict."""
    cfg = tiny_config(
        tmp_path,
        objective,
        "preference",
        data={"max_train_samples": 32, "max_seq_length": 96},
        optim={"warmup_steps": 0},
        trainer={"max_steps": 3},
        tracking={"log_model": False},
    )
    return merge_sections(cfg, sections)


def write_config(tmp_path: Path, cfg: dict, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def sft_config(tmp_path):
    """Factory: sft_config(**sections) -> path of a written tiny SFT config."""

    def make(**sections) -> Path:
        return write_config(tmp_path, tiny_sft_config(tmp_path, **sections))

    return make


def demo_config(name: str, data: str, tmp: Path, *overrides: str):
    """configs/demo/<name>.yaml on the bundled `data/demo/<dataset>_{train,val}.jsonl`, writing under `tmp`."""
    from tulu_lightning.train import load_run_config

    return load_run_config(
        str(REPO / "configs" / "demo" / f"{name}.yaml"),
        [
            f"data.train_files=[{DEMO_DATA / f'{data}_train.jsonl'}]",
            f"data.val_files=[{DEMO_DATA / f'{data}_val.jsonl'}]",
            f"trainer.output_dir={tmp / name}",
            f"tracking.uri=sqlite:///{tmp / 'mlflow.db'}",
            "tracking.log_model=false",
            *overrides,
        ],
    )


@pytest.fixture(scope="session")
def demo_sft(tmp_path_factory):
    """The demo SFT recipe (configs/demo/sft.yaml, what `make demo` trains), once per test session. Returns its
    FitResult (`hf_dir` is a Hugging Face directory the DPO/RM/RLVR tests start from)."""
    from tulu_lightning.train import fit

    tmp = tmp_path_factory.mktemp("demo_sft")
    return fit(demo_config("sft", "sft", tmp))


@pytest.fixture(scope="session")
def demo_rm(demo_sft, tmp_path_factory):
    """The demo reward model (configs/demo/rm.yaml) trained from the demo SFT model, once per test session.
    Returns its FitResult (`hf_dir` is its Hugging Face export)."""
    from tulu_lightning.train import fit

    tmp = tmp_path_factory.mktemp("demo_rm")
    return fit(demo_config("rm", "preference", tmp, f"model.name_or_path={demo_sft.hf_dir}"))
