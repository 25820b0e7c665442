"""The worker's check of its Redis before any agent reads a message (:meth:`Runtime.verify_redis`).

It runs as an app task, not inside the agents: faust restarts a crashed agent every few seconds, but a
task's exception crashes the app, so a Redis of an earlier key layout or the wrong cluster mode stops the
worker (its input uncommitted) instead of leaving it running idle. The agents await :meth:`Runtime.verified`.
"""

from __future__ import annotations

import faust

from pipeline.worker.runtime import Runtime


def install_redis_check(app: faust.App, runtime: Runtime) -> None:
    @app.task  # type: ignore[untyped-decorator]
    async def verify_redis() -> None:
        await runtime.verify_redis()
