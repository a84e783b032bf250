"""The tulu-rewards wheel as a user of another RL framework gets it: built by maturin (manylinux2014 through
zig), installed into a fresh virtual environment from the wheel alone (no index: a dependency would fail the
install), importable, its `tulu-rewards` command working, and `pip show` listing no requirements."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # a release build of the extension on a fresh checkout (cached after)

MANIFEST = REPO / "tulu-rewards" / "Cargo.toml"


def run(*argv: str | Path, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])  # maturin, zig
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("ziglang", reason="the manylinux2014 build links with zig (`pip install ziglang`)")
    out = tmp_path_factory.mktemp("wheels")
    run(sys.executable, "-m", "maturin", "build", "--release", "--zig", "--compatibility", "manylinux2014",
        "-m", MANIFEST, "-o", out, cwd=REPO)  # fmt: skip
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_is_abi3_manylinux2014_with_no_requirements(wheel):
    # PEP 425 tags: one wheel for every CPython >= 3.10, on glibc >= 2.17 (CentOS 7 and every newer Linux).
    assert wheel.name.startswith("tulu_rewards-0.1.0-cp310-abi3-manylinux2014_x86_64"), wheel.name
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert not [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    for module in ("__init__", "verifiers", "cli", "trl", "verl", "openrlhf", "errors", "files"):
        assert f"tulu_rewards/{module}.py" in names
    assert "tulu_rewards/_native.pyi" in names and "tulu_rewards/py.typed" in names


def test_a_fresh_venv_installs_the_wheel_alone_and_it_works(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python, command = venv / "bin" / "python", venv / "bin" / "tulu-rewards"
    run(
        python, "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check", wheel, cwd=tmp_path
    )

    shown = run(python, "-m", "pip", "show", "tulu-rewards", cwd=tmp_path).stdout
    requires = [line.split(":", 1)[1].strip() for line in shown.splitlines() if line.startswith("Requires:")]
    assert requires == [""], shown
    installed = run(python, "-m", "pip", "list", "--format=json", cwd=tmp_path).stdout
    assert {p["name"] for p in json.loads(installed)} <= {"pip", "setuptools", "tulu-rewards", "tulu_rewards"}

    check = (
        "import importlib.metadata, tulu_rewards, tulu_rewards.trl, tulu_rewards.verl, tulu_rewards.openrlhf\n"
        "from tulu_rewards import verify\n"
        f"assert tulu_rewards.__file__.startswith({str(venv)!r}), tulu_rewards.__file__\n"
        "assert tulu_rewards.__version__ == importlib.metadata.version('tulu-rewards'), tulu_rewards.__version__\n"
        "print(verify('gsm8k', ['so the answer is 18.0'], ['18'])[0].status)\n"
    )
    assert run(python, "-c", check, cwd=tmp_path).stdout == "correct\n"

    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        json.dumps({"response": "\\boxed{\\frac12}", "ground_truth": "0.5", "dataset": "math"}) + "\n"
        + json.dumps({"response": "the answer is 7", "ground_truth": "8", "dataset": "gsm8k"}) + "\n"
    )  # fmt: skip
    done = run(command, "verify", "--input", rows, cwd=tmp_path)
    assert "rows: 2  accuracy: 0.5000" in done.stdout
    verdicts = [json.loads(line) for line in rows.with_suffix(".verdicts.jsonl").read_text().splitlines()]
    assert [v["status"] for v in verdicts] == ["correct", "wrong"]

    rows.write_text(rows.read_text() + "{not json\n")
    done = run(command, "verify", "--input", rows, "--overwrite", cwd=tmp_path, check=False)
    assert (done.returncode, done.stderr) == (
        2,
        f"error: {rows}:3: invalid JSON (Expecting property name enclosed in double quotes at column 2)\n",
    )

    # the OpenRLHF server, from the installed command
    server = subprocess.Popen(
        [command, "serve", "--port", "0"], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        url = server.stdout.readline().split()[
            2
        ]  # "tulu-rewards: serving http://127.0.0.1:PORT/get_reward ..."
        body = {"query": ["so 3"], "labels": [{"dataset": "gsm8k", "ground_truth": "3"}]}
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert json.loads(reply.read())["rewards"] == [1.0]
    finally:
        server.terminate()
        server.wait(timeout=10)
