"""faust's per-message wait, without four tasks per message when the message needs none.

faust's consumer hands every fetched message to its conductor with
``await self.wait_first(callback(message), self.suspend_flow.wait())`` (``Consumer._drain_messages``).
mode's ``wait_first`` wraps each argument, and the service's stopped and crashed events, in a task of its
own, waits for the first of the four and cancels the other three. Measured with py-spy over ``scamshare
bench pipeline`` (10,000 reports, about 19,400 messages over the two hops) the drain loop spent about 40 µs
on each message, two thirds of it there. The callback (``Conductor.on_message``) nearly always finishes
without suspending: it puts the event on a channel queue that has room.

:class:`EagerFirstWait` runs the first awaitable's first step in the calling task. If it finishes there,
that is the whole wait, with the answer ``wait_first`` gives when the callback is done first (it, its
result, not stopped). If it suspends (a full queue, flow control, a contended lock), the rest of it goes to
``wait_first`` as it would have, racing the suspension, the stop and the crash, and cancelled with them.
When the service is stopping or crashed, or the call is any other shape, nothing changes.

Only the first step moves: it runs in the fetcher's task, not one of its own, so it must not depend on
which task it runs in (``asyncio.current_task``, ``asyncio.timeout``). faust's ``on_message`` does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

from mode.services import WaitResults

__all__ = ["EagerFirstWait", "first_step"]


def first_step(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """Run ``coro`` until it first suspends: ``(True, its result)`` if it finished (its exception, if it
    raised, propagates), else ``(False, an awaitable of the rest)``, which must be awaited in a task."""
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return True, stop.value
    return False, _rest(coro, yielded)


async def _rest(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    return await _Resume(coro, yielded)


class _Resume:
    """Await a coroutine that already yielded ``yielded`` (the future it waits on, or None for a bare
    yield): the task awaiting this waits on that future, then the coroutine goes on where it stopped."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro = coro
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, yielded = self.coro, self.yielded
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - a cancellation (or any throw) goes to its await
                try:
                    yielded = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


class EagerFirstWait:
    """Mixin for a ``mode.Service``: ``wait_first(coroutine, other)`` steps the coroutine first (module
    docstring)."""

    _stopped: Any
    _crashed: Any

    async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:
        if (
            len(coros) == 2
            and timeout is None
            and asyncio.iscoroutine(coros[0])
            and not self._stopped.is_set()
            and not self._crashed.is_set()
        ):
            try:
                finished, value = first_step(coros[0])
            except BaseException:
                _close_unstarted(coros[1])
                raise
            if finished:
                _close_unstarted(coros[1])
                return WaitResults([coros[0]], [value], False)
            coros = (value, coros[1])
        return await super().wait_first(*coros, timeout=timeout)  # type: ignore[misc]


def _close_unstarted(other: Any) -> None:
    """The other awaitable was never started: nothing to cancel, and no "never awaited" warning."""
    if asyncio.iscoroutine(other):
        other.close()
