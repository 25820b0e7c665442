"""API keys: how an organisation's HTTP clients prove who they are to the gateway.

A key is shown once, when it is created (``ssk_<key id>_<secret>``), and never again: the store keeps only
the SHA-256 of its secret. The secret is 32 random bytes, so a fast hash is enough (a slow KDF protects
guessable passwords; nothing here is guessable) and verifying costs one Redis read. Verification reads the
store on every call, with no cache, so a revoked key fails on the very next request; revoking keeps the
record (``revoked_ms``) so ``orgs key list`` still shows what existed and when it stopped.

Redis keys (``p`` = the key prefix): ``p apikey:<key id>`` one hash per key (org, label, created_ms,
revoked_ms, sha256, last4), ``p apikeys:<org>`` the set of the org's key ids. Every command touches one key,
so the layout runs unchanged on Redis Cluster.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from typing import Final, Protocol, cast

import redis.asyncio as aioredis

TOKEN_PREFIX: Final = "ssk_"  # noqa: S105  # a marker, not a secret
_TOKEN_RE: Final = re.compile(r"^ssk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
#: the longest token :func:`parse_token` looks at (longer is malformed without a regex pass)
_MAX_TOKEN: Final = 64


@dataclass(frozen=True, slots=True)
class ApiKey:
    """What is known about a key: never its secret."""

    key_id: str
    org: str
    label: str
    created_ms: int
    revoked_ms: int | None = None
    #: the secret's last four characters, to tell keys apart in a listing
    last4: str = ""

    @property
    def active(self) -> bool:
        return self.revoked_ms is None

    def to_json(self) -> dict[str, object]:
        return {
            "key_id": self.key_id, "org": self.org, "label": self.label, "created_ms": self.created_ms,
            "revoked_ms": self.revoked_ms, "last4": self.last4, "active": self.active,
        }  # fmt: skip


def new_token() -> tuple[str, str, str]:
    """A fresh ``(token, key_id, secret)``; the token is what the client sends."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{TOKEN_PREFIX}{key_id}_{secret}", key_id, secret


def parse_token(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed token, else None."""
    if len(token) > _MAX_TOKEN:
        return None
    found = _TOKEN_RE.match(token)
    return (found.group(1), found.group(2)) if found else None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _matches(stored_hex: str, secret: str) -> bool:
    return hmac.compare_digest(stored_hex.encode(), digest(secret).encode())


class ApiKeyStore(Protocol):
    async def create(self, org: str, label: str, now_ms: int) -> tuple[str, ApiKey]:
        """A new active key for ``org``: ``(token, key)``; the token is returned here and nowhere else."""
        ...

    async def verify(self, token: str) -> ApiKey | None:
        """The active key this token proves, else None (malformed, unknown, wrong secret, revoked)."""
        ...

    async def list(self, org: str) -> list[ApiKey]:
        """The org's keys, revoked ones included, oldest first."""
        ...

    async def revoke(self, org: str, key_id: str, now_ms: int) -> bool:
        """Revoke one of the org's keys; False if it has no such active key (another org's key included)."""
        ...

    async def revoke_all(self, org: str, now_ms: int) -> int:
        """Revoke every active key of the org; how many were."""
        ...


class MemoryApiKeys:
    """In-process keys, for pure tests."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[ApiKey, str]] = {}

    async def create(self, org: str, label: str, now_ms: int) -> tuple[str, ApiKey]:
        token, key_id, secret = new_token()
        key = ApiKey(key_id, org, label, now_ms, None, secret[-4:])
        self._keys[key_id] = (key, digest(secret))
        return token, key

    async def verify(self, token: str) -> ApiKey | None:
        parsed = parse_token(token)
        found = self._keys.get(parsed[0]) if parsed else None
        if parsed is None or found is None:
            return None
        key, stored = found
        return key if _matches(stored, parsed[1]) and key.active else None

    async def list(self, org: str) -> list[ApiKey]:
        return sorted(
            (k for k, _ in self._keys.values() if k.org == org), key=lambda k: (k.created_ms, k.key_id)
        )

    async def revoke(self, org: str, key_id: str, now_ms: int) -> bool:
        found = self._keys.get(key_id)
        if found is None or found[0].org != org or not found[0].active:
            return False
        self._keys[key_id] = (replace(found[0], revoked_ms=now_ms), found[1])
        return True

    async def revoke_all(self, org: str, now_ms: int) -> int:
        return sum([await self.revoke(org, k.key_id, now_ms) for k in await self.list(org) if k.active])


#: Set revoked_ms once, only on a key of this org that is still active: 1 if it was revoked now.
_REVOKE: Final = """
local h = redis.call('HMGET', KEYS[1], 'org', 'revoked_ms')
if h[1] ~= ARGV[1] or (h[2] and h[2] ~= '') then return 0 end
redis.call('HSET', KEYS[1], 'revoked_ms', ARGV[2])
return 1
"""


class RedisApiKeys:
    """Keys in Redis (see the module docstring for the layout)."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._r = client
        self._p = prefix
        self._revoke = client.register_script(_REVOKE)

    def _key(self, key_id: str) -> str:
        return f"{self._p}apikey:{key_id}"

    def _index(self, org: str) -> str:
        return f"{self._p}apikeys:{org}"

    async def create(self, org: str, label: str, now_ms: int) -> tuple[str, ApiKey]:
        token, key_id, secret = new_token()
        key = ApiKey(key_id, org, label, now_ms, None, secret[-4:])
        fields: dict[str, str | int] = {
            "org": org,
            "label": label,
            "created_ms": now_ms,
            "sha256": digest(secret),
            "last4": key.last4,
        }
        # The key's record first: a key listed in the index always exists.
        await self._r.hset(self._key(key_id), mapping=dict(fields))  # type: ignore[arg-type]  # redis-py stubs
        await self._r.sadd(self._index(org), key_id)
        return token, key

    async def _hash(self, key_id: str) -> dict[bytes, bytes]:
        return cast("dict[bytes, bytes]", await self._r.hgetall(self._key(key_id)))

    @staticmethod
    def _decode(key_id: str, raw: dict[bytes, bytes]) -> tuple[ApiKey, str] | None:
        if not raw:
            return None
        f = {k.decode(): v.decode() for k, v in raw.items()}
        revoked = f.get("revoked_ms") or None
        key = ApiKey(
            key_id, f["org"], f.get("label", ""), int(f["created_ms"]),
            int(revoked) if revoked else None, f.get("last4", ""),
        )  # fmt: skip
        return key, f.get("sha256", "")

    async def verify(self, token: str) -> ApiKey | None:
        parsed = parse_token(token)
        if parsed is None:
            return None
        found = self._decode(parsed[0], await self._hash(parsed[0]))
        if found is None or not _matches(found[1], parsed[1]):
            return None
        return found[0] if found[0].active else None

    async def list(self, org: str) -> list[ApiKey]:
        members = cast("set[bytes]", await self._r.smembers(self._index(org)))
        ids = sorted(i.decode() for i in members)
        keys = []
        for key_id in ids:
            found = self._decode(key_id, await self._hash(key_id))
            if found is not None and found[0].org == org:
                keys.append(found[0])
        return sorted(keys, key=lambda k: (k.created_ms, k.key_id))

    async def revoke(self, org: str, key_id: str, now_ms: int) -> bool:
        if not re.fullmatch(r"[0-9a-f]{12}", key_id):
            return False
        return bool(await self._revoke(keys=[self._key(key_id)], args=[org, now_ms]))

    async def revoke_all(self, org: str, now_ms: int) -> int:
        return sum([await self.revoke(org, k.key_id, now_ms) for k in await self.list(org) if k.active])
