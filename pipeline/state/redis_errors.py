"""Which Redis errors mean "the state store is unavailable or refusing writes", not "this call was wrong".

The worker retries a batch that failed with one of them (instead of dead-lettering its reports as a bug), and
the gateway answers 503 with Retry-After (instead of a 500). Besides losing the connection: a demoted primary
after a failover (READONLY), maxmemory reached (OOM), an ACL change (NOPERM, a disabled user), a cluster
without its slots (CLUSTERDOWN, TRYAGAIN, MASTERDOWN, an unreachable slot), a primary that lost its scripts
(NOSCRIPT), a failed background save (MISCONF), a script running too long (BUSY), too few replicas
(NOREPLICAS). Redis 7 returns a write refused *inside* a script as a plain script error quoting the code
(``Error running script (...): @user_script:2: ...: -OOM command not allowed when used memory >
'maxmemory'.``, measured), so the quoted code counts too.
"""

from __future__ import annotations

import re
from typing import Final

import redis.exceptions as rx

__all__ = ["REDIS_UNAVAILABLE", "redis_unavailable"]

REDIS_UNAVAILABLE: Final[tuple[type[BaseException], ...]] = (
    rx.ConnectionError,  # AuthenticationError (WRONGPASS, NOAUTH) and BusyLoadingError (LOADING) too
    rx.TimeoutError,
    rx.ReadOnlyError,
    rx.NoScriptError,
    rx.OutOfMemoryError,
    rx.NoPermissionError,
    rx.ClusterError,  # ClusterDownError, MasterDownError
    rx.TryAgainError,
    rx.RedisClusterException,  # SlotNotCoveredError, cluster discovery failing
)
_SERVER_CODES: Final = frozenset(
    {"MISCONF", "BUSY", "NOREPLICAS", "OOM", "READONLY", "NOPERM", "NOAUTH", "LOADING", "CLUSTERDOWN",
     "TRYAGAIN", "MASTERDOWN"}
)  # fmt: skip
_QUOTED_CODE: Final = re.compile(r": -([A-Z]+) ")


def redis_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` is Redis being away or refusing (module docstring), not an error of the call."""
    if isinstance(exc, REDIS_UNAVAILABLE):
        return True
    if isinstance(exc, rx.ResponseError):
        text = str(exc)
        return text.split(" ", 1)[0] in _SERVER_CODES or any(
            code in _SERVER_CODES for code in _QUOTED_CODE.findall(text)
        )
    return False
