"""Feast's Redis online store, read directly: every key of a request in one pipelined round trip."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twelve.serving.config import ServingConfigError
from twelve.serving.online.plan import Record, ViewPlan


class RedisReader:
    """Reads Feast's Redis hashes directly: every key of a request in one pipelined round trip.

    Args:
        client: a redis-py client built from the store's config, as Feast builds it.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    def check(self, plans: Sequence[ViewPlan]) -> None:
        """Fail now when the server does not answer.

        Raises:
            ServingConfigError: Redis is unreachable.
        """
        try:
            self.client.ping()
        except Exception as error:
            raise ServingConfigError(f"the Redis online store does not answer: {error}") from error

    def version(self) -> None:
        """None: Redis has no cheap change counter, so nothing read is kept."""
        return None

    def read(self, requests: Sequence[tuple[ViewPlan, list[bytes]]]) -> list[dict[bytes, Record]]:
        """Records of the given keys: one ``HMGET`` per (view, key), all in one pipeline.

        A key is known when its hash holds the view's ``_ts:<view>`` field: Feast answers a key
        without it with empty values and epoch 0 (what ``OnlineFeatures`` calls unknown).
        """
        with self.client.pipeline(transaction=False) as pipe:
            for plan, keys in requests:
                for key in keys:
                    pipe.hmget(key, plan.fields)
            replies = pipe.execute()
        found: list[dict[bytes, Record]] = []
        offset = 0
        for _, keys in requests:
            view_replies = replies[offset : offset + len(keys)]
            offset += len(keys)
            found.append(
                {
                    key: (bool(reply[-1]), reply)
                    for key, reply in zip(keys, view_replies, strict=True)
                }
            )
        return found

    def close(self) -> None:
        """Release the client's connections."""
        self.client.close()
