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
