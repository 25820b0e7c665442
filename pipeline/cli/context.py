"""The CLI's context object and the options shared by every command that talks to Kafka or Redis."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from pipeline.errors import ConfigError, NotConfiguredError, ScamshareError

if TYPE_CHECKING:
    from pipeline.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


class CliContext:
    """What every command receives: the settings (built once, on first use) and consoles for people.

    Building the settings imports pydantic-settings (about 0.1 s): ``normalize`` and ``--help`` never do.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        console: Console | None = None,
        err: Console | None = None,
        *,
        make_settings: Callable[[], Settings] | None = None,
    ) -> None:
        self._settings = settings
        self._make_settings = make_settings
        self.console = console if console is not None else Console(highlight=False)
        self.err = err if err is not None else Console(stderr=True, highlight=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            if self._make_settings is None:
                from pipeline.config import Settings  # noqa: PLC0415

                self._make_settings = Settings
            self._settings = self._make_settings()
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value

    def with_overrides(self, **overrides: Any) -> Settings:
        """This context's settings with command-line overrides applied (None means 'not given')."""
        return override(self.settings, **overrides)

    def resolve(self, settings: Settings, *, kafka: bool = True, redis: bool = True) -> Settings:
        """Fill in addresses from a running `scamshare dev up` when none are configured."""
        from pipeline.dev.control import with_dev_stack  # noqa: PLC0415  (keeps `scamshare --help` fast)

        return with_dev_stack(settings, kafka=kafka, redis=redis)


def override(settings: Settings, **overrides: Any) -> Settings:
    """:meth:`Settings.replace` with an invalid value reported as a bad command-line parameter."""
    from pydantic import ValidationError  # noqa: PLC0415  (pydantic-settings: not for --help)

    from pipeline.config import CredentialsError  # noqa: PLC0415

    try:
        return settings.replace(**overrides)
    except (ValidationError, CredentialsError) as exc:
        raise click.BadParameter(str(exc)) from exc


def parse_kafka_option(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: expected librdkafka KEY=VALUE, e.g. security.protocol=SSL")
        out[key.strip()] = value
    return out


def _use_credentials(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """``--credentials FILE``: speak as the organisation in FILE, with its Kafka options (and bootstrap)."""
    if value is not None:
        obj = ctx.find_object(CliContext)
        assert obj is not None
        obj.settings = override(obj.settings, credentials_file=value)


def connection_options(fn: F) -> F:
    """Adds --bootstrap, --redis-url, --credentials FILE and -X KEY=VALUE (librdkafka) to a command."""
    fn = click.option(
        "--credentials",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        expose_value=False,
        callback=_use_credentials,
        metavar="FILE",
        help="An organisation's credentials file from `orgs add` [env SCAMSHARE_CREDENTIALS_FILE].",
    )(fn)
    fn = click.option(
        "-X",
        "kafka_option",
        multiple=True,
        callback=parse_kafka_option,
        metavar="KEY=VALUE",
        help="librdkafka option passed through as-is (repeatable), e.g. -X security.protocol=SASL_SSL.",
    )(fn)
    fn = click.option(
        "--redis-url",
        default=None,
        metavar="URL",
        help="Redis URL [env SCAMSHARE_REDIS_URL; default: dev stack]",
    )(fn)
    return click.option(
        "--bootstrap",
        default=None,
        metavar="HOST:PORT",
        help="Kafka bootstrap servers [env SCAMSHARE_BOOTSTRAP]",
    )(fn)


def connected_settings(
    obj: CliContext,
    bootstrap: str | None,
    redis_url: str | None,
    kafka_option: dict[str, str],
    *,
    kafka: bool = True,
    redis: bool = True,
) -> Settings:
    """Settings for a command: flags over env over the dev stack's addresses."""
    overrides: dict[str, Any] = {"bootstrap": bootstrap, "redis_url": redis_url}
    if kafka_option:
        overrides["kafka_options"] = {**obj.settings.kafka_options, **kafka_option}
    return obj.resolve(obj.with_overrides(**overrides), kafka=kafka, redis=redis)


def handle_errors(fn: F) -> F:
    """Turn ScamshareError into a one-line message and exit code 1 (2 for configuration errors)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except ScamshareError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=None, sort_keys=False, default=str))


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING - 10 * verbosity
    logging.basicConfig(
        level=max(level, logging.DEBUG),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # faust and aiokafka are chatty at INFO; keep them at WARNING unless -vv.
    for name in ("faust", "mode", "aiokafka", "kafka"):
        logging.getLogger(name).setLevel(logging.WARNING if verbosity < 2 else logging.DEBUG)


def settings_for_lag(
    obj: CliContext, bootstrap: str | None, redis_url: str | None, kafka_option: dict[str, str]
) -> Settings:
    """Kafka is required; Redis is used when configured or running (time lag history, subscriptions)."""
    try:
        return connected_settings(obj, bootstrap, redis_url, kafka_option)
    except NotConfiguredError as exc:
        if exc.what != "Redis server":
            raise
        return connected_settings(obj, bootstrap, redis_url, kafka_option, redis=False)
