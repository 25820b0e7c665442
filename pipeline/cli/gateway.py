"""``scamshare gateway``: serve TAXII 2.1, lookups and HTTP submissions (uvicorn) until SIGINT/SIGTERM."""

from __future__ import annotations

import os
from typing import Any

import click

from pipeline.cli.context import CliContext, connected_settings, connection_options, handle_errors


@click.command("gateway")
@click.option("--host", default=None, help="Address to listen on [env SCAMSHARE_GATEWAY_HOST; 127.0.0.1].")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Port [SCAMSHARE_GATEWAY_PORT; 8080]."
)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Server processes.")
@click.option("--ssl-certfile", default=None, metavar="PEM", help="Serve HTTPS with this certificate chain.")
@click.option("--ssl-keyfile", default=None, metavar="PEM", help="… and this private key.")
@click.option("--log-level", default="warning", show_default=True, help="uvicorn's log level.")
@connection_options
@click.pass_obj
@handle_errors
def gateway(
    obj: CliContext,
    *,
    host: str | None,
    port: int | None,
    workers: int,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    log_level: str,
    bootstrap: str | None,
    redis_url: str | None,
    kafka_option: dict[str, str],
) -> None:
    """Serve the HTTP gateway: TAXII 2.1 feeds, /v1/lookup, /v1/submissions and /v1/sightings.

    Every request authenticates with an organisation's API key (`scamshare orgs key create ORG`).
    OpenAPI: /docs and /openapi.json; health: /healthz, /readyz; Prometheus: /metrics.
    """
    import uvicorn  # noqa: PLC0415  (slow import; keep `--help` fast)

    settings = connected_settings(obj, bootstrap, redis_url, kafka_option)
    settings = settings.replace(gateway_host=host, gateway_port=port)
    options: dict[str, Any] = {
        "host": settings.gateway_host, "port": settings.gateway_port, "log_level": log_level,
        "ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile, "proxy_headers": False,
        "timeout_graceful_shutdown": 10,
    }  # fmt: skip
    obj.err.print(f"scamshare gateway: http{'s' if ssl_certfile else ''}://{settings.gateway_host}:"
                  f"{settings.gateway_port}/ workers={workers} (Ctrl-C to stop)")  # fmt: skip
    if workers == 1:
        from pipeline.gateway.app import create_gateway  # noqa: PLC0415

        uvicorn.run(create_gateway(settings), **options)
        return
    from pipeline.dev.proc import settings_env  # noqa: PLC0415

    # Worker processes build their settings from the environment, as resolved here.
    os.environ.update(settings_env(settings))
    uvicorn.run("pipeline.gateway.app:from_environment", factory=True, workers=workers, **options)
