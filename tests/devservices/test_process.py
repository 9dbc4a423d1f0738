"""Stopping by pid file signals only the process we started, and only while it is still ours."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from imgsearch.devservices import process

SLEEPER = "import time; time.sleep(600)  # imgsearch-test-sleeper"


def start_sleeper(pid_file: Path) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", SLEEPER])
    pid_file.write_text(f"{child.pid}\n")
    # Popen can return while the kernel is still setting up the new program, when /proc/PID/cmdline is empty.
    deadline = time.monotonic() + 10
    while "imgsearch-test-sleeper" not in process.cmdline(child.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return child


def test_stop_ends_the_recorded_process_and_removes_its_pid_file(tmp_path: Path) -> None:
    pid_file = tmp_path / "sleeper.pid"
    child = start_sleeper(pid_file)
    assert process.running_pid(pid_file, "imgsearch-test-sleeper") == child.pid

    assert process.stop(pid_file, "imgsearch-test-sleeper", grace_s=10) is True

    assert child.wait(timeout=10) is not None
    assert not pid_file.exists()


def test_a_reused_pid_is_not_ours(tmp_path: Path) -> None:
    pid_file = tmp_path / "other.pid"
    child = start_sleeper(pid_file)
    try:
        assert process.running_pid(pid_file, "minio server") is None
        assert process.stop(pid_file, "minio server") is False
        assert child.poll() is None, "a process whose command line is not ours must survive"
    finally:
        child.kill()
        child.wait()


def test_missing_or_garbled_pid_file(tmp_path: Path) -> None:
    assert process.read_pid(tmp_path / "absent.pid") is None
    (tmp_path / "garbled.pid").write_text("not a pid")
    assert process.running_pid(tmp_path / "garbled.pid", "anything") is None
