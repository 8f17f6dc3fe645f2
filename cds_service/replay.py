"""`jti` replay protection (CDS Hooks best practices: remember each jti for the token's lifetime).

In-process by default; with CDS_REDIS_URL every instance shares one set through Redis
`SET key 1 NX EX ttl`, which is atomic, so two workers cannot both accept the same token.
"""
from __future__ import annotations

import hashlib
import threading
import time


class ReplayCacheUnavailable(Exception):
    """The shared cache cannot be reached: the service cannot tell a replay from a first use."""


def _key(iss: str, jti: str) -> str:
    return "cds:jti:" + hashlib.sha256(f"{iss}\x00{jti}".encode()).hexdigest()


class MemoryReplayCache:
    def __init__(self, max_entries: int = 200_000) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def first_use(self, iss: str, jti: str, ttl_seconds: int) -> bool:
        """True the first time (iss, jti) is seen within ttl; False for a replay."""
        now = time.monotonic()
        key = _key(iss, jti)
        with self._lock:
            expiry = self._seen.get(key)
            if expiry is not None and expiry > now:
                return False
            if len(self._seen) >= self._max:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                if len(self._seen) >= self._max:
                    raise ReplayCacheUnavailable("replay cache full")
            self._seen[key] = now + max(ttl_seconds, 1)
            return True


class RedisReplayCache:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def first_use(self, iss: str, jti: str, ttl_seconds: int) -> bool:
        import redis

        try:
            return bool(self._redis.set(_key(iss, jti), b"1", nx=True, ex=max(int(ttl_seconds), 1)))
        except redis.RedisError as exc:
            raise ReplayCacheUnavailable(type(exc).__name__) from None

    def ping(self) -> bool:
        import redis

        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False


def replay_cache(redis_url: str | None):
    return RedisReplayCache(redis_url) if redis_url else MemoryReplayCache()
