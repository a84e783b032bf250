"""The code sandbox: time, memory and output limits, no network, a clean environment, off unless enabled."""

from __future__ import annotations

import socket

import pytest

from tulu_lightning.evaluation import sandbox
from tulu_lightning.evaluation.sandbox import CodeExecutionConfig, SandboxError, run_python

ON = CodeExecutionConfig(enabled=True, timeout_s=2.0, memory_mb=256, max_output_kb=4, max_file_mb=1)


def test_passing_and_failing_programs():
    assert run_python("assert sum([1, 2]) == 3\nprint('ok')", ON).stdout == "ok\n"
    failed = run_python("assert 1 == 2, 'nope'", ON)
    assert failed.status == "failed" and "AssertionError: nope" in failed.stderr


def test_disabled_unless_enabled():
    with pytest.raises(SandboxError, match="code execution is disabled"):
        run_python("print(1)", CodeExecutionConfig())


@pytest.mark.parametrize(
    "program",
    ["while True:\n    pass", "import time\ntime.sleep(30)"],
    ids=["cpu-bound", "sleeping"],
)
def test_time_limit_kills_the_program(program):
    result = run_python(program, ON)
    assert result.status == "timeout" and result.seconds < ON.timeout_s + 3


def test_memory_limit():
    result = run_python("block = bytearray(512 * 1024 * 1024)\nprint('allocated')", ON)
    assert result.status == "failed" and "MemoryError" in result.stderr


def test_output_and_file_limits():
    result = run_python("print('x' * 100_000)", ON)
    assert len(result.stdout) == 4 * 1024  # kept: the first max_output_kb
    big_file = run_python("open('big', 'wb').write(b'0' * (2 << 20))", ON)
    assert big_file.status == "failed"  # RLIMIT_FSIZE: past max_file_mb the write is refused


def test_limits_cannot_be_raised_back():
    program = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))"
    assert run_python(program, ON).status == "failed"


def test_environment_is_empty_and_cwd_is_fresh():
    result = run_python("import os\nprint(sorted(os.environ))\nprint(sorted(os.listdir('.')))", ON)
    names, files = result.stdout.splitlines()
    assert "OPENAI_API_KEY" not in names and "HF_HUB_OFFLINE" not in names
    assert files == "['program.py', 'stderr', 'stdout']"


@pytest.fixture
def listening_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


def test_no_network(listening_port):
    if sandbox.network_isolation_prefix() is None:
        pytest.skip("no network namespace on this machine")
    program = f"import socket\nsocket.create_connection(('127.0.0.1', {listening_port}), timeout=2)"
    result = run_python(program, ON)
    assert result.status == "failed" and "unreachable" in result.stderr.lower()


def test_without_namespaces_sockets_are_blocked_or_refused(listening_port, monkeypatch):
    monkeypatch.setattr(sandbox, "network_isolation_prefix", lambda: None)
    program = f"import socket\nsocket.create_connection(('127.0.0.1', {listening_port}), timeout=2)"
    result = run_python(program, ON)
    assert result.status == "failed" and "network access is disabled in the sandbox" in result.stderr
    with pytest.raises(SandboxError, match="refusing to run code"):
        run_python("print(1)", CodeExecutionConfig(enabled=True, require_isolation=True))


def test_code_execution_scope():
    assert not sandbox.active_config().enabled
    with sandbox.code_execution(ON):
        assert sandbox.active_config() is ON
    assert not sandbox.active_config().enabled
