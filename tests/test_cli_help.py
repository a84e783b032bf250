"""A CLI that explains itself: every config field listed with its type, default, value and comment (read from the
dataclasses' source comments), the bundled configs listed and copied, `--version`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import tulu_lightning
from tulu_lightning.cli import main
from tulu_lightning.cli.configs import bundled_configs, bundled_dir
from tulu_lightning.config_docs import (
    COMMAND_SCHEMAS,
    class_comments,
    command_schema,
    describe,
    field_docs,
    objective_schema,
)
from tulu_lightning.objectives import OBJECTIVES

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = [*OBJECTIVES, *COMMAND_SCHEMAS]


def schema(name: str) -> type:
    return command_schema(name) if name in COMMAND_SCHEMAS else objective_schema(name)


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_field_of_every_config_is_listed_with_a_comment(name):
    docs = field_docs(schema(name))
    leaves = [doc for doc in docs if not doc.section]
    assert len(leaves) >= 10
    uncommented = [doc.key for doc in leaves if not doc.comment]
    assert uncommented == [], f"{name}: fields without a comment in their dataclass source"
    listing = describe(schema(name))
    for doc in leaves:
        assert f"\n  {doc.key}: {doc.type} = " in listing
        assert doc.comment.split()[0] in listing


def test_comments_are_read_from_the_source_beside_above_and_inside_the_default():
    @dataclass
    class Example:
        plain: int = 1  # beside the field
        # above the field,
        # on two lines
        above: str = "x"
        wrapped: str = "long default"  # inside the parentheses
        bare: list[int] = field(default_factory=list)

    comments = class_comments(Example)
    assert comments == {
        "plain": "beside the field",
        "above": "above the field, on two lines",
        "wrapped": "inside the parentheses",
        "bare": "",
    }


def test_defaults_come_from_the_objectives_own_sections():
    defaults = {doc.key: doc.default for doc in field_docs(objective_schema("grpo"))}
    assert defaults["rlvr.samples_per_prompt"] == 8 and defaults["rlvr.clip_high"] == 0.28  # GRPO's factory
    assert defaults["objective"] == "grpo"
    assert defaults["model.tiny.hidden_size"] == 128  # an unset optional section lists what it gets once set


def test_fit_help_with_a_config_lists_its_fields_and_values(capsys):
    config = REPO / "configs" / "demo" / "dpo.yaml"
    assert main(["fit", "--help", "--config", str(config), "optim.lr=0.5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m tulu_lightning fit")
    assert "fields of DPOConfig" in out
    assert "  optim.lr: float = 0.0001  -> 0.5\n      peak learning rate" in out
    beta = yaml.safe_load(config.read_text())["dpo"]["beta"]
    assert f"  dpo.beta: float = 5.0  -> {beta}\n" in out
    assert "  dpo.loss_type: str = 'dpo_norm'" in out


def test_help_with_a_config_of_the_wrong_objective_is_one_line(tmp_path, capsys):
    config = tmp_path / "x.yaml"
    config.write_text("objective: sft\nsft:\n  nope: 1\n")
    assert main(["fit", "--help", "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"error: {config}: unknown key 'sft.nope'\n"


def test_plain_help_stays_plain(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--help --config FILE` also lists every field" in out and "fields of" not in out


def test_config_show_an_objective_a_bundled_config_and_a_bad_name(capsys):
    assert main(["config", "show", "ppo"]) == 0
    assert "  ppo.lam: float = 0.95\n      GAE λ" in capsys.readouterr().out
    assert main(["configs", "show", "demo/waywardness"]) == 0
    out = capsys.readouterr().out
    assert "fields of WaywardnessConfig" in out and "  sweep.gammas: list[float] = " in out
    assert main(["configs", "show", "nope"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: no config named 'nope': expected an objective or a command"
    )


def test_configs_list_names_every_bundled_config(capsys):
    assert main(["configs", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    shipped = sorted(
        str(p.relative_to(REPO / "configs").with_suffix("")) for p in (REPO / "configs").rglob("*.yaml")
    )
    assert [line.split()[0] for line in out[:-1]] == shipped
    assert "demo/sft                 fit (sft)" in "\n".join(out)
    assert bundled_dir() == Path(tulu_lightning.__file__).parent / "configs"  # the package's own copy
    assert set(bundled_configs()) == set(shipped)


def test_configs_copy_never_overwrites_without_overwrite(tmp_path, capsys):
    source = REPO / "configs" / "demo" / "sft.yaml"
    assert main(["configs", "copy", "demo/sft", str(tmp_path)]) == 0  # into a directory
    copied = tmp_path / "sft.yaml"
    assert copied.read_text() == source.read_text()
    copied.write_text("mine: 1\n")
    assert main(["configs", "copy", "demo/sft.yaml", str(copied)]) == 2
    assert capsys.readouterr().err == f"error: {copied}: already exists; pass --overwrite to replace it\n"
    assert copied.read_text() == "mine: 1\n"
    assert main(["configs", "copy", "demo/sft", str(copied), "--overwrite"]) == 0
    assert copied.read_text() == source.read_text()
    assert main(["configs", "copy", "demo/nope", str(tmp_path / "x.yaml")]) == 2
    assert "no bundled config named 'demo/nope'" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"tulu_lightning {tulu_lightning.__version__} (tulu-rewards ")


def test_a_long_value_is_shown_by_its_start_and_size(capsys):
    assert (
        main(["decontaminate", "--help", "--config", str(REPO / "configs" / "decontam" / "tulu3.yaml")]) == 0
    )
    out = capsys.readouterr().out
    [benchmarks] = [line for line in out.splitlines() if line.startswith("  benchmarks: ")]
    assert len(benchmarks) < 250 and benchmarks.endswith(" items)")
