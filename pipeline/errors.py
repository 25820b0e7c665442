"""One root exception with small structured subclasses. Messages say what to do next."""

from __future__ import annotations


class ScamshareError(Exception):
    """Root of every error scamshare raises on purpose."""


class ConfigError(ScamshareError):
    """The configuration is missing or contradictory."""


class NotConfiguredError(ConfigError):
    """No broker or Redis address is configured and no dev stack is running."""

    def __init__(self, what: str) -> None:
        self.what = what
        flag = (
            "--bootstrap / SCAMSHARE_BOOTSTRAP"
            if what == "Kafka broker"
            else "--redis-url / SCAMSHARE_REDIS_URL"
        )
        super().__init__(f"no {what} configured: run `scamshare dev up`, or pass {flag}")


class DevStackError(ScamshareError):
    """The embedded broker or Redis could not be started or stopped."""


class BinaryNotFoundError(DevStackError):
    """A server binary (tansu, redis-server) could not be located."""


class KafkaError(ScamshareError):
    """A Kafka operation failed after the client's own retries."""


class DeliveryError(KafkaError):
    """One or more messages were not acknowledged by the broker."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        head = "; ".join(failures[:3])
        more = f" (+{len(failures) - 3} more)" if len(failures) > 3 else ""
        super().__init__(f"{len(failures)} message(s) not delivered: {head}{more}")


class InputError(ScamshareError):
    """A file given to the CLI is malformed. Names the file, line and problem."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")


class ContentionError(ScamshareError):
    """A compare-and-set kept losing to concurrent writers. Transient: the batch is retried with back-off."""
