"""The worker's leader-only decay timer, and what a failed timer tick leaves to its next tick.

A tick that fails because the world around it failed (Redis away or refusing writes, Kafka away) is tried
again on the next tick; anything else is a bug and crashes the worker, as an agent's would be isolated.
"""

from __future__ import annotations

import logging

import faust

from pipeline.worker.decay import DecaySweep
from pipeline.worker.poison import is_infrastructure
from pipeline.worker.runtime import Runtime

logger = logging.getLogger(__name__)


def timer_retries(exc: BaseException) -> bool:
    """Whether a failed timer tick (decay, release) is simply tried again on the next tick."""
    return isinstance(exc, RuntimeError) or is_infrastructure(exc)


def install_decay_timer(app: faust.App, runtime: Runtime) -> None:
    """One worker (the leader) walks the indicators a slice per tick; a failed tick is retried next tick."""
    settings = runtime.settings
    sweep: list[DecaySweep] = []

    @app.timer(interval=settings.decay_interval_s, on_leader=True)  # type: ignore[untyped-decorator]
    async def decay() -> None:
        if not sweep:
            sweep.append(DecaySweep(runtime.versions(), batch=settings.decay_batch))
        try:
            result = await sweep[0].tick()
        except Exception as exc:
            if not timer_retries(exc):
                raise
            logger.warning("decay tick failed, next tick retries: %r", exc)
            return
        logger.debug("decay tick %s", result)
