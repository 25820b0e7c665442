"""Quotas per organisation: fixed-window counters and the queue of held messages (Redis and in memory).

A *demand* is what one message asks of its organisation's quotas (``{"reports_per_second": 3,
"new_indicators_per_hour": 2}``). :meth:`QuotaStore.admit` takes the demands of one organisation's messages in
order and admits the longest prefix that fits every window, atomically (one Lua script in Redis), so two
workers never over-admit. Windows are fixed (per second, per hour); a single message larger than a whole
window's quota is admitted only into an empty window, so it is delayed, never stuck. Admitted messages are
processed; the others are *held*: stored whole (topic,
partition, offset, key, value, headers) until a later window has room, then released in arrival order —
never lost. While an organisation has held messages, its new ones queue behind them.

Keys (``p`` = the store prefix; ``{org}`` is a hash tag, so each organisation's keys share one Redis Cluster
slot): ``p q:{org}:<name>:<window>`` window counters (expire with their window), ``p qh:{org}`` sorted set of
held message sources (score: when held), ``p qm:{org}`` hash source → message, ``p qorgs`` set of
organisations with held messages. ``qorgs`` is in a slot of its own, so no script touches it with an
organisation's keys; it is kept a superset of the organisations holding messages instead: a hold adds the
organisation before and after it writes, and a release that leaves none removes it, then looks again and
adds it back if a hold came in between (:meth:`RedisQuotas.release`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import orjson
import redis.asyncio as aioredis

from pipeline.state.org import Organisation
from pipeline.state.redis_batch import Batch
from pipeline.stix.times import Clock, utc_now
from pipeline.wire.message import InMessage

#: quota field → window in seconds
WINDOWS: Final[Mapping[str, int]] = {
    "reports_per_second": 1,
    "new_indicators_per_hour": 3600,
    "sightings_per_hour": 3600,
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """How many of the messages (in order) were admitted; why the next one was not; and when to retry."""

    admitted: int
    limit: str | None = None
    retry_after_ms: int = 0


def limits_of(org: Organisation, names: Sequence[str]) -> dict[str, int]:
    """The organisation's limits among ``names`` (unlimited ones left out)."""
    quotas = org.quotas.model_dump()
    return {n: int(quotas[n]) for n in names if quotas.get(n) is not None}


def encode_message(msg: InMessage) -> bytes:
    def b64(raw: bytes | None) -> str | None:
        return None if raw is None else base64.b64encode(raw).decode()

    return orjson.dumps({
        "topic": msg.topic, "partition": msg.partition, "offset": msg.offset, "key": b64(msg.key),
        "value": b64(msg.value), "headers": {k: b64(v) for k, v in msg.headers.items()},
        "timestamp_ms": msg.timestamp_ms,
    })  # fmt: skip


def decode_message(raw: bytes) -> InMessage:
    doc: dict[str, Any] = orjson.loads(raw)

    def unb64(text: str | None) -> bytes | None:
        return None if text is None else base64.b64decode(text)

    return InMessage(
        topic=doc["topic"], partition=int(doc["partition"]), offset=int(doc["offset"]),
        key=unb64(doc["key"]), value=unb64(doc["value"]) or b"",
        headers={k: v for k, raw_v in doc["headers"].items() if (v := unb64(raw_v)) is not None},
        timestamp_ms=doc.get("timestamp_ms"),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class AdmitRequest:
    """One organisation's part of :meth:`QuotaStore.admit_all`: its limits and its messages' demands."""

    org: str
    limits: Mapping[str, int]
    demands: Sequence[Mapping[str, int]]


class QuotaStore(Protocol):
    async def admit(
        self, org: str, limits: Mapping[str, int], demands: Sequence[Mapping[str, int]], *, releasing: bool
    ) -> Verdict:
        """Admit the longest prefix of ``demands`` that fits. Not ``releasing``: nothing is admitted while
        the organisation has held messages (they go first)."""
        ...

    async def admit_all(self, requests: Sequence[AdmitRequest], *, releasing: bool) -> list[Verdict]:
        """:meth:`admit` for several organisations at once (one round trip on one Redis); in order."""
        ...

    async def hold(self, org: str, messages: Sequence[InMessage]) -> list[bool]:
        """Hold messages (idempotent by source); True for each newly held."""
        ...

    async def held(self, org: str, limit: int) -> list[InMessage]:
        """The organisation's oldest held messages, in the order they were held."""
        ...

    async def release(self, org: str, sources: Sequence[str]) -> None:
        """Forget released (processed) messages."""
        ...

    async def held_orgs(self) -> list[str]: ...

    async def held_count(self, org: str) -> int: ...


_ADMIT = """
local releasing = ARGV[1] == '1'
if not releasing and redis.call('EXISTS', KEYS[1]) == 1 then return {0, 'held', 0} end
local nlimits = tonumber(ARGV[2])
local nmsgs = tonumber(ARGV[3])
local used = {}
for i = 1, nlimits do used[i] = tonumber(redis.call('GET', KEYS[i + 1]) or '0') end
local admitted = 0
local over = ''
local wait = 0
for m = 1, nmsgs do
  local fits = true
  for i = 1, nlimits do
    local want = tonumber(ARGV[3 + nlimits * 2 + (m - 1) * nlimits + i])
    if used[i] > 0 and used[i] + want > tonumber(ARGV[3 + i]) then
      fits = false
      over = KEYS[i + 1]
      wait = redis.call('PTTL', KEYS[i + 1])
      -- this call filled the window, which is not written yet: what is left of it
      if wait < 0 then wait = tonumber(ARGV[3 + nlimits + i]) end
      break
    end
  end
  if not fits then break end
  for i = 1, nlimits do
    used[i] = used[i] + tonumber(ARGV[3 + nlimits * 2 + (m - 1) * nlimits + i])
  end
  admitted = m
end
for i = 1, nlimits do
  if used[i] > 0 then
    if redis.call('EXISTS', KEYS[i + 1]) == 1 then
      redis.call('SET', KEYS[i + 1], used[i], 'KEEPTTL')
    else
      redis.call('SET', KEYS[i + 1], used[i], 'PX', ARGV[3 + nlimits + i])
    end
  end
end
return {admitted, over, wait}
"""


# KEYS: held zset, messages hash (one organisation's slot); ARGV: sources. Returns how many are left.
_RELEASE = """
if #ARGV > 0 then
  redis.call('ZREM', KEYS[1], unpack(ARGV))
  redis.call('HDEL', KEYS[2], unpack(ARGV))
end
return redis.call('ZCARD', KEYS[1])
"""

# KEYS: held zset, messages hash; ARGV: now_ms, then source and message pairs. Returns 1/0 per message
# (0: held already, by its source). One script: the set and the hash never disagree.
_HOLD = """
local out = {}
for i = 2, #ARGV, 2 do
  local n = (i - 2) / 2
  local added = redis.call('ZADD', KEYS[1], 'NX', tonumber(ARGV[1]) + n / 1000, ARGV[i])
  redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1])
  out[#out + 1] = added
end
return out
"""


class RedisQuotas:
    def __init__(self, client: aioredis.Redis, prefix: str, *, now: Clock = utc_now) -> None:
        self._r = client
        self._p = prefix
        self._now = now
        self._admit = client.register_script(_ADMIT)
        self._release = client.register_script(_RELEASE)
        self._hold = client.register_script(_HOLD)

    @property
    def _orgs_key(self) -> str:
        return f"{self._p}qorgs"

    def _held_key(self, org: str) -> str:
        # {org}: one hash slot per organisation, so the admit script runs unchanged on Redis Cluster.
        return f"{self._p}qh:{{{org}}}"

    def _messages_key(self, org: str) -> str:
        return f"{self._p}qm:{{{org}}}"

    def _window_key(self, org: str, name: str, now_ms: int) -> str:
        window_ms = WINDOWS[name] * 1000
        return f"{self._p}q:{{{org}}}:{name}:{now_ms // window_ms}"

    async def admit(
        self, org: str, limits: Mapping[str, int], demands: Sequence[Mapping[str, int]], *, releasing: bool
    ) -> Verdict:
        (verdict,) = await self.admit_all([AdmitRequest(org, limits, demands)], releasing=releasing)
        return verdict

    async def admit_all(self, requests: Sequence[AdmitRequest], *, releasing: bool) -> list[Verdict]:
        # Each script touches one organisation's slot; the batch is one pipeline on one Redis.
        now_ms = int(self._now().timestamp() * 1000)
        batch = Batch(self._r)
        for request in requests:
            batch.script(self._admit, *self._admit_call(request, releasing, now_ms))
        return [_verdict(reply, len(r.demands)) for r, reply in zip(requests, await batch.run(), strict=True)]

    def _admit_call(self, request: AdmitRequest, releasing: bool, now_ms: int) -> tuple[list[str], list[str]]:
        org, limits, demands = request.org, request.limits, request.demands
        names = sorted(limits)
        keys = [self._held_key(org), *(self._window_key(org, n, now_ms) for n in names)]
        ttls = [WINDOWS[n] * 1000 - now_ms % (WINDOWS[n] * 1000) for n in names]
        wants = [str(int(d.get(n, 0))) for d in demands for n in names]
        args = ["1" if releasing else "0", str(len(names)), str(len(demands))]
        args += [str(limits[n]) for n in names] + [str(t) for t in ttls] + wants
        return keys, args

    async def hold(self, org: str, messages: Sequence[InMessage]) -> list[bool]:
        if not messages:
            return []
        now_ms = int(self._now().timestamp() * 1000)
        # Before: a crash after the write still leaves the organisation findable. After: a release that
        # emptied it meanwhile and removed it finds it again (release's second look, or this add).
        await self._r.sadd(self._orgs_key, org)
        args: list[Any] = [now_ms]
        for msg in messages:
            args += [msg.source, encode_message(msg)]
        added = await self._hold(keys=[self._held_key(org), self._messages_key(org)], args=args)
        await self._r.sadd(self._orgs_key, org)
        return [bool(a) for a in added]

    async def held(self, org: str, limit: int) -> list[InMessage]:
        sources = await self._r.zrange(self._held_key(org), 0, limit - 1)
        if not sources:
            return []
        raws = await self._r.hmget(
            self._messages_key(org), [bytes(x) if isinstance(x, bytes) else str(x) for x in sources]
        )
        return [
            decode_message(raw if isinstance(raw, bytes) else raw.encode()) for raw in raws if raw is not None
        ]

    async def release(self, org: str, sources: Sequence[str]) -> None:
        # Forgetting the released ones is one script in the organisation's slot; forgetting the organisation
        # is not (qorgs has a slot of its own), and must not lose a hold that interleaves: it did once
        # (ZCARD, then SREM: a message held in between was orphaned, never offered again). Now: SREM, look
        # again, SADD back if anything is held; a hold adds the organisation after its write too, so
        # whichever comes last leaves it listed while it holds messages.
        left = await self._release(keys=[self._held_key(org), self._messages_key(org)], args=list(sources))
        if int(left) == 0:
            await self._r.srem(self._orgs_key, org)
            if await self._r.zcard(self._held_key(org)) > 0:
                await self._r.sadd(self._orgs_key, org)

    async def held_orgs(self) -> list[str]:
        members = await self._r.smembers(self._orgs_key)
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def held_count(self, org: str) -> int:
        return int(await self._r.zcard(self._held_key(org)))


def _verdict(reply: Sequence[Any], wanted: int) -> Verdict:
    """The admit script's ``{admitted, over, wait}`` as a :class:`Verdict` for ``wanted`` messages."""
    admitted, over, wait = reply
    over_text = over.decode() if isinstance(over, bytes) else str(over)
    limit = None if not over_text else ("held" if over_text == "held" else over_text.split(":")[-2])
    return Verdict(int(admitted), limit if int(admitted) < wanted else None, max(0, int(wait)))


class MemoryQuotas:
    """The same semantics in memory (tests of steps), windows measured on the injected clock."""

    def __init__(self, *, now: Clock = utc_now) -> None:
        self._now = now
        self._used: dict[tuple[str, str, int], int] = {}
        self._held: dict[str, dict[str, InMessage]] = {}

    async def admit(
        self, org: str, limits: Mapping[str, int], demands: Sequence[Mapping[str, int]], *, releasing: bool
    ) -> Verdict:
        if not releasing and self._held.get(org):
            return Verdict(0, "held") if demands else Verdict(0)
        now_ms = int(self._now().timestamp() * 1000)
        window = {n: now_ms // (WINDOWS[n] * 1000) for n in limits}
        used = {n: self._used.get((org, n, window[n]), 0) for n in limits}
        admitted = 0
        for demand in demands:
            over = next(
                (n for n in sorted(limits) if used[n] and used[n] + demand.get(n, 0) > limits[n]), None
            )
            if over is not None:
                wait = WINDOWS[over] * 1000 - now_ms % (WINDOWS[over] * 1000)
                self._store(org, window, used)
                return Verdict(admitted, over, wait)
            for n in limits:
                used[n] += demand.get(n, 0)
            admitted += 1
        self._store(org, window, used)
        return Verdict(admitted)

    async def admit_all(self, requests: Sequence[AdmitRequest], *, releasing: bool) -> list[Verdict]:
        return [await self.admit(r.org, r.limits, r.demands, releasing=releasing) for r in requests]

    def _store(self, org: str, window: Mapping[str, int], used: Mapping[str, int]) -> None:
        for n, value in used.items():
            self._used[(org, n, window[n])] = value

    async def hold(self, org: str, messages: Sequence[InMessage]) -> list[bool]:
        queue = self._held.setdefault(org, {})
        out = []
        for msg in messages:
            out.append(msg.source not in queue)
            queue.setdefault(msg.source, msg)
        return out

    async def held(self, org: str, limit: int) -> list[InMessage]:
        return list(self._held.get(org, {}).values())[:limit]

    async def release(self, org: str, sources: Sequence[str]) -> None:
        queue = self._held.get(org, {})
        for source in sources:
            queue.pop(source, None)
        if not queue:
            self._held.pop(org, None)

    async def held_orgs(self) -> list[str]:
        return sorted(org for org, q in self._held.items() if q)

    async def held_count(self, org: str) -> int:
        return len(self._held.get(org, {}))
