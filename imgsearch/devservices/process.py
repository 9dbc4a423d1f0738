"""Pid files, liveness and stopping: only ever signal a process this package started."""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def running_pid(pid_file: Path, cmdline_marker: str) -> int | None:
    """The pid in `pid_file` if that process lives and is still ours (guards against pid reuse)."""
    pid = read_pid(pid_file)
    if pid is None:
        return None
    if cmdline_marker not in cmdline(pid):
        return None
    return pid


def stop(pid_file: Path, cmdline_marker: str, grace_s: float = 30.0) -> bool:
    """SIGTERM the recorded process, SIGKILL it after `grace_s`; True when something was stopped."""
    pid = running_pid(pid_file, cmdline_marker)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and running_pid(pid_file, cmdline_marker) == pid:
        time.sleep(0.2)
    if running_pid(pid_file, cmdline_marker) == pid:
        os.kill(pid, signal.SIGKILL)
        while running_pid(pid_file, cmdline_marker) == pid:
            time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    return True


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, alive: Callable[[], bool]) -> None:
    """Poll `check` until it holds; fail early if the process died, late if it never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if not alive():
            raise RuntimeError(f"{what} exited during start-up")
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not become healthy within {timeout_s:.0f}s")
