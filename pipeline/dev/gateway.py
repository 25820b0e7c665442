"""A gateway for development and tests: ``scamshare gateway`` as a child process, or in this event loop.

:class:`GatewayProcess` runs the real command (uvicorn, its own process group, stopped with SIGTERM then
SIGKILL, never left behind: it dies with its parent). :func:`serving` runs the same app inside the caller's
event loop (the demo), on a free loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from pipeline.config import Settings
from pipeline.dev.proc import HOST, _stop_child, free_port, log_tail, spawn
from pipeline.errors import DevStackError


def healthy(url: str, timeout_s: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout_s) as answer:  # noqa: S310 - loopback
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class GatewayProcess:
    """``scamshare gateway`` for ``settings`` on a free port; ``url`` once started."""

    def __init__(
        self, settings: Settings, log: Path, *, env: Mapping[str, str], workers: int = 1, start_s: float = 60
    ) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log = log
        self._env = dict(env)
        self._argv = [
            sys.executable, "-m", "pipeline", "gateway", "--host", HOST, "--port", str(self.port),
            "--workers", str(workers), "--redis-url", settings.redis_url_value() or "",
        ]  # fmt: skip
        if settings.bootstrap:
            self._argv += ["--bootstrap", settings.bootstrap]
        self._start_s = start_s
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self.proc = spawn(self._argv, self.log, death_signal=signal.SIGKILL, env=self._env)
        deadline = time.monotonic() + self._start_s
        while not healthy(self.url):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise DevStackError(f"the gateway did not start:\n{log_tail(self.log)}")
            time.sleep(0.1)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None:
            _stop_child(self.proc, grace=15)


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    """The gateway app served by uvicorn in this event loop; yields its base URL."""
    import uvicorn  # noqa: PLC0415

    from pipeline.gateway.app import create_gateway  # noqa: PLC0415

    port = free_port()
    config = uvicorn.Config(
        create_gateway(settings), host=HOST, port=port, log_level="warning", lifespan="on"
    )

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            """No signal capture: the caller (the demo) owns SIGINT and SIGTERM."""
            yield

    server = _Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise DevStackError("the gateway stopped while starting")
            await asyncio.sleep(0.05)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        await task
