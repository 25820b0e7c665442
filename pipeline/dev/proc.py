"""Processes of the dev stack: starting servers, checking and stopping them (binaries: pipeline.dev.binaries).

Used by :mod:`pipeline.dev.stack`. Servers start in their own session; on Linux a death signal
(``PR_SET_PDEATHSIG``) ties them to the thread that started them unless they are meant to outlive it. A
recorded pid is trusted only if it still runs the recorded binary and started at the recorded time (pids get
reused). POSIX only.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from redis.backoff import NoBackoff
from redis.retry import Retry

from pipeline.config import Settings
from pipeline.errors import DevStackError
from pipeline.kafka.clients import librdkafka_logger

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
STATE_FILE = "dev.json"
STATE_VERSION = 2
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
#: On SIGTERM tansu keeps serving until every client has disconnected; its storage is memory, so a
#: short grace then SIGKILL loses nothing. Redis exits promptly on SIGTERM.
_GRACE_S = {"broker": 1.0, "redis": STOP_TIMEOUT_S}
#: Signal sent to a server when its owner dies. SIGKILL for the broker, for the reason above.
_DEATH_SIGNAL = {"broker": signal.SIGKILL, "redis": signal.SIGTERM}
_PORT_ATTEMPTS = 3  # a free port can be taken between our probe and the server's bind
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(address: str, timeout: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


# --- processes --------------------------------------------------------------------------------------


def process_alive(pid: int) -> bool:
    """True when ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    if pid <= 0:  # os.kill(0 or -1, ...) would address whole process groups
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = proc_stat(pid)
    return stat is None or stat[0] != "Z"


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None without /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (Linux); with the pid, it names one process."""
    stat = proc_stat(pid)
    return int(stat[19]) if stat is not None and len(stat) > 19 else None


def _runs_binary(pid: int, binary: str) -> bool:
    try:
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        exe = None
    if exe is not None:
        return os.path.realpath(exe) == os.path.realpath(binary)
    try:  # no /proc (macOS): ask ps for the command name
        out = subprocess.run(  # noqa: S603
            ["ps", "-o", "comm=", "-p", str(pid)],  # noqa: S607
            capture_output=True, text=True, check=False, timeout=5,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out) and Path(out).name == Path(binary).name


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group ``pid`` leads (children start in their own session), else just pid."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our child, so no zombie is left in the process table."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _die_with_parent_hook(sig: signal.Signals) -> Callable[[], None] | None:
    """A preexec_fn making the child receive ``sig`` when the thread that forks it dies (Linux only).

    It runs between fork and exec, so it does as little as possible: one prctl call through a
    function resolved beforehand, and a check that the parent did not die in between.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork: the child only calls it
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig))
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(1)

    return hook


def spawn(
    argv: list[str],
    log: Path,
    *,
    death_signal: signal.Signals | None,
    truncate: bool = True,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, output to ``log``; ``death_signal`` None: may outlive us."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if truncate:
        log.write_bytes(b"")
    # Append mode: redis also appends to this file through --logfile.
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group; Ctrl-C in a terminal does not reach it
            preexec_fn=_die_with_parent_hook(death_signal) if death_signal else None,  # noqa: PLW1509
            close_fds=True,
            env=env,
            cwd=cwd,
        )


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as ``SCAMSHARE_*`` variables, secrets included: how worker processes receive them."""
    data = settings.model_dump(mode="json")
    for secret in ("redis_url", "sasl_password", "ssl_key_password"):
        value = getattr(settings, secret)
        data[secret] = value.get_secret_value() if value is not None else None
    out = {}
    for name, value in data.items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        out[f"SCAMSHARE_{name.upper()}"] = text
    return out


def read_log(log: Path) -> str:
    try:
        return log.read_text(errors="replace")
    except OSError:
        return ""


def log_tail(log: Path, lines: int = 20) -> str:
    """The last ``lines`` of ``log``, led by its first ERROR/FATAL line (the cause, often long before)."""
    rows = read_log(log).splitlines()
    first = next((row for row in rows if " ERROR " in row or " FATAL " in row), None)
    lead = [f"(first error) {first}", "..."] if first and first not in rows[-lines:] else []
    return "\n".join(lead + rows[-lines:]) or "(empty log)"


def _stop_child(proc: subprocess.Popen[bytes], grace: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the child's group, wait ``grace`` s, then SIGKILL. The pid is not reused before we reap it."""
    if proc.poll() is not None:
        return
    signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        logger.info("pid=%s still running %ss after SIGTERM; sending SIGKILL", proc.pid, grace)
        signal_group(proc.pid, signal.SIGKILL)
        proc.wait(STOP_TIMEOUT_S)


# --- records ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """One server we started: enough to find it again and to be sure it still is ours."""

    name: str
    pid: int
    binary: str
    address: str
    log: str
    start_ticks: int | None

    def is_running(self) -> bool:
        """The pid runs and is the very process we started (same start time and binary)."""
        if not process_alive(self.pid):
            return False
        ticks = start_ticks(self.pid)
        if ticks != self.start_ticks:
            return False
        return _runs_binary(self.pid, self.binary)

    def answering(self) -> bool:
        return self.is_running() and port_open(self.address)

    def describe(self) -> str:
        return f"{self.name} (pid {self.pid}, {self.address})"


def _stop_record(record: ProcessRecord) -> bool:
    """Stop a recorded server if it still is ours. Returns whether it was running."""
    if not record.is_running():
        _reap(record.pid)
        return False
    for sig, wait in (
        (signal.SIGTERM, _GRACE_S.get(record.name, STOP_TIMEOUT_S)),
        (signal.SIGKILL, STOP_TIMEOUT_S),
    ):
        signal_group(record.pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(record.pid)
            if not process_alive(record.pid):
                return True
            time.sleep(0.05)
    raise DevStackError(f"{record.describe()} survived SIGKILL")


# --- the stack --------------------------------------------------------------------------------------


class _ExitedEarlyError(DevStackError):
    """The server exited while starting (often: the port was taken in the meantime)."""


@dataclass(frozen=True, slots=True)
class _Child:
    record: ProcessRecord
    proc: subprocess.Popen[bytes]


def _broker_answers(address: str) -> bool:
    if not port_open(address, timeout=0.2):
        return False
    conf: dict[str, Any] = {"bootstrap.servers": address, "logger": librdkafka_logger}
    AdminClient(conf).list_topics(timeout=2)
    return True


def _redis_answers(address: str) -> bool:
    if not port_open(address, timeout=0.2):
        return False
    host, _, port = address.rpartition(":")
    # No retries: redis-py 8 retries a refused connection 10 times with backoff (seconds per probe).
    client = redis.Redis(
        host=host, port=int(port), socket_timeout=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    try:
        return bool(client.ping())
    finally:
        client.close()


def _start_server(
    name: str,
    binary: str,
    argv_for: Callable[[int], list[str]],
    ready: Callable[[str], bool],
    log: Path,
    *,
    detach: bool,
    timeout: float,
    port: int | None = None,
) -> _Child:
    """Start a server on a free port (or on ``port``: a restart) and wait until it answers."""
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        if port is None or attempt > 1:
            port = free_port()
        address = f"{HOST}:{port}"
        proc = spawn(argv_for(port), log, death_signal=None if detach else _DEATH_SIGNAL[name])
        try:
            _wait_ready(proc, name=name, ready=ready, address=address, log=log, timeout=timeout)
        except _ExitedEarlyError:
            if attempt == _PORT_ATTEMPTS or "in use" not in log_tail(log):
                raise
            logger.warning("%s exited while starting on port %s; retrying on another port", name, port)
            continue
        except BaseException:
            _stop_child(proc, _GRACE_S[name])
            raise
        record = ProcessRecord(name, proc.pid, binary, address, str(log), start_ticks(proc.pid))
        logger.info("started %s pid=%s address=%s log=%s", name, proc.pid, address, log)
        return _Child(record, proc)
    raise AssertionError("unreachable")  # pragma: no cover


#: how long a Redis that answers LOADING (reading its append-only file) is waited for
LOADING_LIMIT_S = 600.0


def _wait_ready(
    proc: subprocess.Popen[bytes],
    *,
    name: str,
    ready: Callable[[str], bool],
    address: str,
    log: Path,
    timeout: float,
    loading_limit: float = LOADING_LIMIT_S,
) -> None:
    """Wait until ``ready(address)``; a Redis still loading its append-only file is waited for up to
    ``loading_limit`` seconds (progress, not failure: a dev Redis after a day of benchmarks held a 2.9 GB
    AOF and took more than the 20 s start-up timeout to load it)."""
    started = time.monotonic()
    deadline = started + timeout
    last_error = "no answer"
    while True:
        if proc.poll() is not None:
            raise _ExitedEarlyError(
                f"{name} exited with code {proc.returncode} while starting; {log}:\n{log_tail(log)}"
            )
        try:
            if ready(address):
                return
        except redis.BusyLoadingError as exc:
            if last_error != str(exc):
                logger.warning("%s is loading its data (%s); waiting up to %gs", name, log, loading_limit)
            last_error = str(exc)
            deadline = max(deadline, started + loading_limit)
        except (OSError, KafkaException, redis.RedisError) as exc:
            last_error = str(exc)
        if time.monotonic() >= deadline:
            why = f"{name} not ready after {timeout:g}s ({last_error})"
            raise DevStackError(f"{why}; {log}:\n{log_tail(log)}")
        time.sleep(0.05)
