"""A faust topic schema for raw bytes that makes the event without the serializer registry.

The worker's topics carry bytes the steps parse themselves (``key_serializer="raw"``,
``value_serializer="raw"``). faust still decodes every message through its registry: ``loads_key`` and
``loads_value`` look the codec up by name, run the ``raw`` codec (which returns the bytes it is given),
ask the model registry whether the bytes name a model (they cannot: only a mapping can), and
``create_event`` reads ``app.conf.Event`` from the settings object. In the worker's profile that was
about a sixtieth of the burst, once per message on both hops.

:class:`RawSchema` gives the same event directly: the message's key, value and headers as the client
returned them (bytes or ``None``), in the app's event class, read once when the topic compiles its decoder.
The raw codec cannot fail on bytes, so there is no decode error to route.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import AppT, Message

__all__ = ["RawSchema"]


class RawSchema(faust.Schema[bytes | None, bytes | None]):
    """The raw key and value schema (module docstring): ``app.topic(name, schema=RawSchema())``."""

    def __init__(self) -> None:
        super().__init__(key_serializer="raw", value_serializer="raw")

    def compile(self, app: AppT, **_options: Any) -> Any:
        event_class: Any = app.conf.Event

        async def decode(message: Message, *, propagate: bool = False) -> Any:
            return event_class(app, message.key, message.value, message.headers, message)

        return decode
