"""The Java side of :mod:`pipeline.dev.kafka`: Kafka's jars, the ``java`` binary, and JVM processes.

Jars come from Maven Central, resolved once with Maven into a cache outside the repository.

Apache Kafka's tarball cannot be downloaded everywhere, but Maven Central serves ``kafka_2.13`` (the broker
and ``kafka.tools.StorageTool``) with every module it needs at runtime (kafka-server, kafka-storage,
kafka-raft, kafka-metadata, the group/share/transaction coordinators, kafka-clients). ``kafka-tools`` (the
command-line tools) is left out on purpose: a broker never loads it, and it drags in Connect, Jetty and
Jersey (+47 jars). Kafka 4 logs through log4j2; ``log4j-slf4j2-impl`` routes its slf4j calls there, so the
broker's log goes to the file named in the log4j2 configuration instead of a terminal.

The cache is ``<cache_root>/kafka-<version>/libs`` with ``cache_root`` defaulting to
``~/.cache/scamshare``; the CLI passes ``SCAMSHARE_KAFKA_CACHE`` as ``cache_root`` (this module reads no
SCAMSHARE_* variable; only the standard ``JAVA_HOME``). A ``.complete`` marker is written only after a
whole resolution; concurrent resolutions wait on a file lock, and a half-resolved folder is never used.

Processes (:func:`spawn`) start in their own session, so a signal reaches the JVM and nothing else; with a
death signal they die with the thread that started them (Linux ``PR_SET_PDEATHSIG``). A recorded pid is
ours only while its start time matches (:func:`start_ticks`): pids get reused. Linux /proc only.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.dev.proc import signal_group
from pipeline.errors import BinaryNotFoundError, DevStackError

logger = logging.getLogger(__name__)

#: The one place the Kafka version is pinned (the newest 4.x that Maven Central serves with all modules).
KAFKA_VERSION = "4.4.0"
SLF4J_VERSION = "2.0.17"
LOG4J_VERSION = "2.25.5"  # the log4j-core that kafka-server 4.4.0 itself depends on
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MIN_JAVA = 17  # Kafka 4 brokers need Java 17
INSTALL_HINT = "apt-get install openjdk-17-jre-headless maven (or any Java >= 17 and Maven 3)"
CACHE_ENV = "SCAMSHARE_KAFKA_CACHE"
RESOLVE_TIMEOUT_S = 900.0
_MARKER = ".complete"
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>scamshare.dev</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>{kafka}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>{slf4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""


def default_cache_root() -> Path:
    """``~/.cache/scamshare``: where jars go unless the caller passes ``SCAMSHARE_KAFKA_CACHE``."""
    return Path.home() / ".cache" / "scamshare"


def libs_dir(cache_root: str | Path | None = None, version: str = KAFKA_VERSION) -> Path:
    """The folder of jars for ``version`` (it may not be resolved yet)."""
    root = Path(cache_root).expanduser() if cache_root else default_cache_root()
    return root / f"kafka-{version}" / "libs"


def jars_cached(cache_root: str | Path | None = None, version: str = KAFKA_VERSION) -> bool:
    """True when a complete resolution of ``version`` is in the cache."""
    return (libs_dir(cache_root, version).parent / _MARKER).is_file()


def find_java(java: str | None = None) -> str:
    """``java`` (explicit), else ``$JAVA_HOME/bin/java``, else ``java`` on PATH; must be Java >= 17."""
    home = os.environ.get("JAVA_HOME")
    candidates = [java] if java else [*([str(Path(home) / "bin" / "java")] if home else []), "java"]
    why = f"no java found (Kafka needs Java >= {MIN_JAVA})"
    for candidate in candidates:
        found = shutil.which(candidate)
        if found is None:
            continue
        major = java_major(found)
        if major is not None and major >= MIN_JAVA:
            return found
        why = f"{found} is Java {major or '(version unknown)'}; Kafka {KAFKA_VERSION} needs >= {MIN_JAVA}"
    raise BinaryNotFoundError(f"{why}: {INSTALL_HINT}")


@functools.cache
def java_major(java: str) -> int | None:
    """Major version of ``java`` (``java -version`` prints ``"17.0.15"``, or ``"1.8.0_x"`` for 8)."""
    try:
        out = subprocess.run(  # noqa: S603
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def kafka_available(
    cache_root: str | Path | None = None, java: str | None = None, version: str = KAFKA_VERSION
) -> tuple[bool, str]:
    """(True, "") when a Kafka cluster can start here, else (False, why). Resolves nothing."""
    try:
        find_java(java)
    except BinaryNotFoundError as exc:
        return False, str(exc)
    if not jars_cached(cache_root, version) and shutil.which("mvn") is None:
        return False, f"Kafka jars not cached and no mvn on PATH to fetch them: {INSTALL_HINT}"
    return True, ""


def resolve_jars(
    cache_root: str | Path | None = None,
    *,
    version: str = KAFKA_VERSION,
    mvn: str | None = None,
    timeout: float = RESOLVE_TIMEOUT_S,
) -> Path:
    """The libs folder for ``version``, resolved with ``mvn`` on first use (minutes), cached afterwards."""
    libs = libs_dir(cache_root, version)
    home = libs.parent
    if (home / _MARKER).is_file():
        return libs
    binary = shutil.which(mvn or "mvn")
    if binary is None:
        raise BinaryNotFoundError(f"Kafka {version} jars are not cached and mvn is missing: {INSTALL_HINT}")
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be resolving: wait for it
        if (home / _MARKER).is_file():
            return libs
        with tempfile.TemporaryDirectory(dir=home, prefix=".resolve-") as tmp:
            pom = Path(tmp) / "pom.xml"
            pom.write_text(_POM.format(kafka=version, slf4j=SLF4J_VERSION, log4j=LOG4J_VERSION))
            out = Path(tmp) / "libs"
            argv = [binary, "-B", "-q", "-ntp", "-Dstyle.color=never", "-f", str(pom),
                    f"{_DEPENDENCY_PLUGIN}:copy-dependencies", "-DincludeScope=runtime",
                    f"-DoutputDirectory={out}"]  # fmt: skip
            try:
                done = subprocess.run(  # noqa: S603
                    argv, capture_output=True, text=True, timeout=timeout, check=False,
                    stdin=subprocess.DEVNULL,
                )  # fmt: skip
            except subprocess.TimeoutExpired as exc:
                raise DevStackError(f"mvn did not resolve Kafka {version} within {timeout:g}s") from exc
            if done.returncode != 0 or not any(out.glob("kafka_2.13-*.jar")):
                tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
                raise DevStackError(f"mvn failed on Kafka {version} (exit {done.returncode}):\n{tail}")
            shutil.rmtree(libs, ignore_errors=True)
            out.rename(libs)
        (home / _MARKER).write_text(f"kafka {version}\n")
    return libs


# --- JVM processes: own session, signals, and telling ours from a reused pid -----------------------


def terminate(pids: list[int], grace: float, *, running: Callable[[int], bool]) -> None:
    """SIGTERM ``pids`` together, SIGKILL those still ``running`` after ``grace`` s (it may reap them)."""
    pids = [pid for pid in pids if running(pid)]
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        for pid in pids:
            signal_group(pid, sig)
        deadline = time.monotonic() + wait
        while pids and time.monotonic() < deadline:
            time.sleep(0.05)
            pids = [pid for pid in pids if running(pid)]
        if not pids:
            return
        logger.info("Kafka pid(s) %s still running after %s; escalating", pids, sig.name)
    raise DevStackError(f"Kafka pid(s) {pids} survived SIGKILL")
