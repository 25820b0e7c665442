"""Per-credential request rate limits for the gateway: a fixed window counted in Redis.

Each credential (an API key id, or ``cert:<CN>``) may make ``limit`` requests per ``window_s`` seconds,
counted over every gateway process (they share Redis). The window is aligned to the epoch, so its reset
time is the same for every process; a refused request is not counted (a client that keeps retrying early
does not push its own reset further away). The verdict carries what the ``RateLimit-*`` and
``Retry-After`` headers say.

Redis key: ``p rl:<credential>:<window start, s>``, expiring with its window; one key per call, so the
limiter runs unchanged on Redis Cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

import redis.asyncio as aioredis


@dataclass(frozen=True, slots=True)
class RateVerdict:
    allowed: bool
    limit: int
    #: requests left in this window after this one
    remaining: int
    #: seconds until the window resets (>= 1)
    reset_s: int
    #: seconds to wait before retrying (0 when allowed)
    retry_after_s: int


def _window(now_ms: int, window_s: int) -> tuple[int, int]:
    """(window start in s, seconds until it resets, >= 1)."""
    window_ms = window_s * 1000
    start_ms = now_ms - now_ms % window_ms
    return start_ms // 1000, max(1, -(-(start_ms + window_ms - now_ms) // 1000))


def verdict(used_before: int, cost: int, limit: int, reset_s: int) -> RateVerdict:
    allowed = used_before + cost <= limit
    used = used_before + cost if allowed else used_before
    return RateVerdict(allowed, limit, max(0, limit - used), reset_s, 0 if allowed else reset_s)


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: int, now_ms: int, cost: int = 1) -> RateVerdict:
        """Count ``cost`` requests of ``key`` if they fit in its current window."""
        ...


class MemoryRateLimiter:
    """One process's counts, for pure tests."""

    def __init__(self) -> None:
        self._used: dict[tuple[str, int], int] = {}

    async def hit(self, key: str, limit: int, window_s: int, now_ms: int, cost: int = 1) -> RateVerdict:
        start, reset_s = _window(now_ms, window_s)
        used = self._used.get((key, start), 0)
        result = verdict(used, cost, limit, reset_s)
        if result.allowed:
            self._used = {k: v for k, v in self._used.items() if k[1] == start}
            self._used[key, start] = used + cost
        return result


#: Count ARGV[1] more if the total stays <= ARGV[2]; returns the count before. Expires with the window.
_HIT: Final = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
if used + cost <= tonumber(ARGV[2]) then
  redis.call('INCRBY', KEYS[1], cost)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return used
"""


class RedisRateLimiter:
    """Counts shared by every gateway process (see the module docstring)."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._p = prefix
        self._hit = client.register_script(_HIT)

    async def hit(self, key: str, limit: int, window_s: int, now_ms: int, cost: int = 1) -> RateVerdict:
        start, reset_s = _window(now_ms, window_s)
        used = int(await self._hit(keys=[f"{self._p}rl:{key}:{start}"], args=[cost, limit, window_s + 1]))
        return verdict(used, cost, limit, reset_s)
