"""The servers under test, each in its own process: start, wait for ready, read memory and CPU, stop.

Every process started here is stopped by :class:`Services` on exit, including on Ctrl-C and on errors; on
Linux each child also asks the kernel for SIGTERM should this process die without cleaning up
(``PR_SET_PDEATHSIG``), so no server outlives the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

__all__ = [
    "ReadyTimeoutError", "Service", "Services", "cpu_seconds", "free_port", "memory_kib", "pin_split",
    "upstream_time_waits",
]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec. Best effort: without libc (not Linux) there is simply no guard.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _child_setup(cpus: frozenset[int] | None) -> Callable[[], None]:
    def setup() -> None:
        _die_with_parent()
        if cpus is not None:
            # Before exec, so every thread the server ever starts inherits the mask.
            os.sched_setaffinity(0, cpus)

    return setup


def pin_split() -> tuple[frozenset[int], frozenset[int]] | None:
    """``(load side, server side)`` CPU sets: the server under test gets the last CPU to itself; the harness, the
    load generator and the simulator share the others. ``None`` with fewer than two CPUs (or no affinity API).

    Unpinned, the scheduler moves the server between cores it shares with the load generator and the upstream,
    and how much it batches per wake-up changes with that; pinned, its figures depend more on its own work. On this
    2-core VM the host's own noise remains either way (bench/README.md, the A/A controls)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return frozenset(cpus[:-1]), frozenset(cpus[-1:])


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ReadyTimeoutError(RuntimeError):
    pass


class Service:
    """One server process, its port and its log file."""

    def __init__(
        self, name: str, argv: Sequence[str], port: int, log_dir: Path, cpus: frozenset[int] | None = None
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(cpus),
        )
        self.pid = self.process.pid

    def wait_ready(self, timeout: float = 20.0) -> float:
        """Poll ``GET /health`` until it answers 200; returns seconds since the process was spawned."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise ReadyTimeoutError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if _health_ok(self.port):
                return time.perf_counter() - self.started
            time.sleep(0.005)
        raise ReadyTimeoutError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class Services:
    """Owns every started :class:`Service`; ``with Services() as services:`` stops them all on the way out."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._running: list[Service] = []

    def start(self, name: str, argv: Sequence[str], port: int, cpus: frozenset[int] | None = None) -> Service:
        """``cpus``: pin the process (every thread it starts) to these CPUs; ``None`` inherits this process's."""
        service = Service(name, argv, port, self.log_dir, cpus)
        self._running.append(service)
        return service

    def stop(self, service: Service) -> None:
        service.stop()
        self._running.remove(service)

    def __enter__(self) -> Services:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        # Last started, first stopped: proxies go before the simulator they call.
        for service in reversed(self._running):
            service.stop()
        self._running.clear()


def _health_ok(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB: resident memory now, and its peak."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may contain spaces; the fields after its closing parenthesis do not.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


_TIME_WAIT = "06"


def upstream_time_waits(port: int) -> int:
    """Loopback TCP connections to or from ``port`` in TIME_WAIT: closed recently, not kept alive.

    A proxy that reuses its upstream connections closes none while under load, so this count does not grow.
    """
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines)
            for line in lines:
                local, remote, state = line.split()[1:4]
                ports = (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16))
                if state == _TIME_WAIT and port in ports:
                    count += 1
    return count
