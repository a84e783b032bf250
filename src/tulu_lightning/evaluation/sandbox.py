"""Running model-written code: a subprocess with time, memory and output limits, and no network.

Code benchmarks (HumanEval, HumanEval+, BigCodeBench) execute what the model wrote against the benchmark's
tests. Each program runs in its own Python process:

- no network: the process starts in a new network namespace (`unshare -rn`: a user namespace mapping the
  caller to root, and an empty network namespace with only a down loopback), where no socket can reach
  anything. Where namespaces are unavailable, `socket` is disabled inside the process instead (weaker: C
  extensions can still open sockets) and a warning says so; `require_isolation` refuses to run then;
- limits (`resource.setrlimit`, set by the child on itself before the program runs, and made hard so the
  program cannot raise them back): address space, CPU seconds, size of any file written, open files; plus a
  wall-clock timeout after which the whole process group is killed;
- a fresh temporary working directory, an empty environment (no credentials), `python -I` (no user site,
  no PYTHON* variables), stdout/stderr written to files and read back truncated.

Code execution is off unless enabled (`CodeExecutionConfig.enabled`); `code_execution(cfg)` scopes the
setting for the lm-eval metric that calls `run_python`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Status = Literal["passed", "failed", "timeout"]


class SandboxError(RuntimeError):
    """Code execution is disabled, or the sandbox cannot give the isolation asked for."""


@dataclass
class CodeExecutionConfig:
    enabled: bool = False  # code benchmarks run model-written code; off unless asked for
    timeout_s: float = 10.0  # wall clock per program (the CPU limit is the same number of seconds)
    memory_mb: int = 2048  # address space (BigCodeBench's tests import numpy/pandas/matplotlib)
    max_output_kb: int = 64  # stdout/stderr kept per program
    max_file_mb: int = 64  # largest file a program may write
    workers: int = 2  # programs run at once
    require_isolation: bool = False  # refuse to run where no network namespace can be made


@dataclass(frozen=True)
class ExecResult:
    status: Status
    returncode: int | None
    seconds: float
    stdout: str = ""
    stderr: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


# Runs in the child before the program: limits first, then (without namespaces) no sockets, then the program.
_BOOTSTRAP = """\
import resource, sys
def _limit(which, value):
    resource.setrlimit(which, (value, value))
_limit(resource.RLIMIT_AS, {memory})
_limit(resource.RLIMIT_CPU, {cpu})
_limit(resource.RLIMIT_FSIZE, {fsize})
_limit(resource.RLIMIT_CORE, 0)
_limit(resource.RLIMIT_NOFILE, 256)
if {block_sockets}:
    import socket
    def _no_network(*args, **kwargs):
        raise OSError("network access is disabled in the sandbox")
    socket.socket = socket.create_connection = socket.socketpair = _no_network
sys.argv = ["program.py"]
_source = open("program.py", encoding="utf-8").read()
del resource, _limit
exec(compile(_source, "program.py", "exec"), {{"__name__": "__main__"}})
"""


@functools.cache
def network_isolation_prefix() -> tuple[str, ...] | None:
    """The command prefix that starts a process with no network (probed once), or None where none works."""
    for prefix in (("unshare", "-rn"), ("unshare", "-n")):
        try:
            probe = subprocess.run([*prefix, sys.executable, "-c", "pass"], capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return prefix
    return None


def run_python(program: str, cfg: CodeExecutionConfig) -> ExecResult:
    """Run `program` (Python source) in the sandbox; `passed` when it exits 0 within the limits."""
    if not cfg.enabled:
        raise SandboxError(
            "code execution is disabled (set code_execution.enabled=true to run code benchmarks)"
        )
    prefix = network_isolation_prefix()
    if prefix is None:
        if cfg.require_isolation:
            raise SandboxError(
                "no network namespace can be created here (unshare -n failed); refusing to run code"
            )
        _warn_no_isolation()
    cpu = max(1, int(cfg.timeout_s + 0.999))
    bootstrap = _BOOTSTRAP.format(
        memory=cfg.memory_mb << 20, cpu=cpu, fsize=cfg.max_file_mb << 20, block_sockets=prefix is None
    )
    with tempfile.TemporaryDirectory(prefix="tulu_sandbox_") as tmp:
        Path(tmp, "program.py").write_text(program, encoding="utf-8")
        command = [*(prefix or ()), sys.executable, "-I", "-B", "-c", bootstrap]
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "HOME": tmp}
        start = time.monotonic()
        with open(Path(tmp, "stdout"), "wb") as out, open(Path(tmp, "stderr"), "wb") as err:
            process = subprocess.Popen(
                command,
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            try:
                returncode: int | None = process.wait(timeout=cfg.timeout_s)
            except subprocess.TimeoutExpired:
                returncode = None
            finally:
                _kill_group(process)
        seconds = time.monotonic() - start
        limit = cfg.max_output_kb << 10
        stdout, stderr = (_read_head(Path(tmp, name), limit) for name in ("stdout", "stderr"))
    if returncode is None or returncode == -signal.SIGXCPU:
        return ExecResult("timeout", returncode, seconds, stdout, stderr)
    return ExecResult("passed" if returncode == 0 else "failed", returncode, seconds, stdout, stderr)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _read_head(path: Path, limit: int) -> str:
    with open(path, "rb") as f:
        return f.read(limit).decode("utf-8", errors="replace")


@functools.cache
def _warn_no_isolation() -> None:
    log.warning(
        "no network namespace available (unshare -n failed): sockets are disabled inside programs instead"
    )


# The setting the lm-eval code metric reads (lm-eval's metric interface carries no run configuration).
_ACTIVE: CodeExecutionConfig = CodeExecutionConfig()


def active_config() -> CodeExecutionConfig:
    return _ACTIVE


@contextlib.contextmanager
def code_execution(cfg: CodeExecutionConfig) -> Iterator[CodeExecutionConfig]:
    """Within the block, code metrics run programs with `cfg` (outside it, code execution is off)."""
    global _ACTIVE
    previous, _ACTIVE = _ACTIVE, cfg
    try:
        yield cfg
    finally:
        _ACTIVE = previous


__all__ = [
    "CodeExecutionConfig",
    "ExecResult",
    "SandboxError",
    "active_config",
    "code_execution",
    "network_isolation_prefix",
    "run_python",
]
