import pytest
from django.core.cache import cache, caches

from conversations.ports import CountersFromCache, TokenBucketsInCache


def test_a_bucket_lets_its_capacity_through_then_refuses():
    buckets = TokenBucketsInCache()

    results = [buckets.take("a", capacity=2, per_second=0.001) for _ in range(3)]

    assert results == [True, True, False]
    assert buckets.take("b", capacity=2, per_second=0.001), "buckets are per key"


def test_a_bucket_refills_at_its_rate():
    buckets = TokenBucketsInCache()

    # A million tokens a second: the bucket is full again by the next call.
    assert all(buckets.take("fast", capacity=1, per_second=1_000_000) for _ in range(5))


def test_counters_count_hits_in_a_window():
    counters = CountersFromCache()

    assert [counters.hit("k", 3600) for _ in range(3)] == [1, 2, 3]
    assert counters.hit("other", 3600) == 1


def test_with_a_redis_cache_the_bucket_lives_in_redis_for_every_process(settings):
    if not settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        pytest.skip("needs REDIS_URL: the embedded run's cache is process-local")
    buckets = TokenBucketsInCache()

    assert buckets.take("shared", capacity=2, per_second=0.001)

    # The Lua script's hash, not a pickled tuple under the lock: other processes see it.
    backend = caches["default"]
    full_key = cache.make_key("bucket:shared")
    stored = backend._cache.get_client(full_key).hgetall(full_key)
    assert float(stored[b"tokens"]) == pytest.approx(1.0, abs=0.01)
