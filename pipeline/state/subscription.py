"""A subscription: one subscriber's feed — who it is, what it wants, what it is cleared to see."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.canon import KINDS
from pipeline.state.org import ORG_ID_PATTERN, Sector
from pipeline.stix.tlp import TLP, parse_tlp
from pipeline.wire.fields import COUNTRY_RE, SUBSCRIBER_ID_PATTERN

#: Delivery channels a subscription can name (one module each in pipeline/subscribers/).
ChannelName = Literal["kafka"]
CHANNELS: tuple[ChannelName, ...] = ("kafka",)


class Subscription(BaseModel):
    """One subscriber's feed: who it is, what it wants, and what it is cleared to see."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=SUBSCRIBER_ID_PATTERN, description="lower-case id; feed scam.feed.<id>")]
    name: str = Field(min_length=1, max_length=200)
    sector: Sector
    organisation: Annotated[str, Field(pattern=ORG_ID_PATTERN)] = Field(
        description="the registered organisation that owns this feed (AMBER+STRICT: only its own reports)"
    )
    countries: frozenset[str] = Field(default=frozenset(), description="ISO alpha-2; empty = every country")
    types: frozenset[str] = Field(default=frozenset(), description="indicator kinds; empty = every kind")
    scam_types: frozenset[str] = Field(default=frozenset(), description="empty = every scam type")
    min_score: int = Field(default=0, ge=0, le=100)
    tlp: TLP = Field(default=TLP.GREEN, description="highest TLP the subscriber is cleared for")
    feed_topic: str | None = None
    channel: ChannelName = Field(default="kafka", description="where deliveries go: kafka = the feed topic")
    taxii: bool = Field(
        default=True,
        description="also materialise this feed as a TAXII 2.1 collection (the gateway serves it)",
    )

    @field_validator("countries", mode="before")
    @classmethod
    def _countries(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str) else list(value or [])
        out = set()
        for item in items:
            code = str(item).strip().upper()
            if not COUNTRY_RE.match(code):
                raise ValueError(f"{item!r} is not an ISO 3166 alpha-2 country code")
            out.add(code)
        return frozenset(out)

    @field_validator("types", mode="before")
    @classmethod
    def _types(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str) else list(value or [])
        unknown = [t for t in items if t not in KINDS]
        if unknown:
            raise ValueError(f"unknown indicator type(s) {unknown}; expected some of {list(KINDS)}")
        return frozenset(items)

    @field_validator("tlp", mode="before")
    @classmethod
    def _tlp(cls, value: Any) -> Any:
        if isinstance(value, str):
            level = parse_tlp(value)
            if level is None:
                raise ValueError(f"{value!r} is not a TLP level (clear, green, amber, amber+strict)")
            value = level
        if value == TLP.RED:
            raise ValueError("no subscriber can be cleared for TLP:RED: RED never leaves the pipeline")
        return value

    def topic(self, prefix: str) -> str:
        return self.feed_topic or f"{prefix}feed.{self.id}"

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["tlp"] = TLP(self.tlp).label
        for key in ("countries", "types", "scam_types"):
            data[key] = sorted(data[key])
        return data
