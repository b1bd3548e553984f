"""Requests and their latency by method, route template and status, for Prometheus.

Counted per request in plain dicts (the middleware runs on the event loop's one thread, so
no lock per request) and turned into metric families only when scraped. With several worker
processes (`PROMETHEUS_MULTIPROC_DIR`), prometheus_client's own values are used instead:
they are what its multiprocess collector adds up across workers.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

REQUESTS = "cuecard_http_requests"
# Reads the read cache (service/readcache.py) looked up: answered from memory or computed.
READ_CACHE = "cuecard_read_cache_requests"
READ_CACHE_OUTCOMES = ("hit", "miss")
LATENCY = "cuecard_http_request_duration_seconds"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class RequestMetrics:
    """In-process counts; a Prometheus collector of them."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], int] = {}
        # per (method, route): one count per bucket (the last is +Inf), then the sum (a float)
        self.latency: dict[tuple[str, str], list[Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        series = self.latency.get((method, route))
        if series is None:
            series = self.latency[(method, route)] = [0] * (len(BUCKETS) + 1) + [0.0]
        series[bisect_left(BUCKETS, seconds)] += 1
        series[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(REQUESTS, "HTTP requests", labels=["method", "route", "status"])
        for (method, route, status), count in list(self.counts.items()):
            requests.add_metric([method, route, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(LATENCY, "HTTP request latency", labels=["method", "route"])
        # Bucket bounds written as prometheus_client writes them ("5.0", not "5").
        for (method, route), series in list(self.latency.items()):
            cumulative, buckets = 0, []
            for bound, count in zip([*map(floatToGoString, BUCKETS), "+Inf"], series[:-1], strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            latency.add_metric([method, route], buckets, sum_value=series[-1])
        yield latency


class _MultiprocessMetrics:
    """The same metrics as prometheus_client values (shared files, summed across workers)."""

    def __init__(self) -> None:
        self.requests = Counter(REQUESTS, "HTTP requests", ["method", "route", "status"])
        self.latency = Histogram(LATENCY, "HTTP request latency", ["method", "route"], buckets=BUCKETS)

    @lru_cache(maxsize=4096)  # noqa: B019 - one instance per process, label sets are few
    def _children(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        return self.requests.labels(method, route, str(status)), self.latency.labels(method, route)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        requests, latency = self._children(method, route, status)
        requests.inc()
        latency.observe(seconds)


def _request_metrics() -> RequestMetrics | _MultiprocessMetrics:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return _MultiprocessMetrics()
    metrics = RequestMetrics()
    REGISTRY.register(metrics)
    return metrics


request_metrics = _request_metrics()


class ReadCacheMetrics:
    """How the read cache answers: `hit` (from memory, a 304 included) or `miss` (computed
    through the stack, kept or not). Counted in a dict and collected on scrape, as requests are;
    prometheus_client's own counter with several worker processes."""

    def __init__(self, *, multiprocess: bool) -> None:
        self.counts = dict.fromkeys(READ_CACHE_OUTCOMES, 0)
        self._shared = (
            Counter(READ_CACHE, "Reads looked up in the read cache, by outcome", ["outcome"])
            if multiprocess
            else None
        )

    def observe(self, outcome: str) -> None:
        if self._shared is not None:
            self._shared.labels(outcome).inc()
        else:
            self.counts[outcome] += 1

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            READ_CACHE, "Reads looked up in the read cache, by outcome", labels=["outcome"]
        )
        for outcome, count in self.counts.items():
            family.add_metric([outcome], count)
        yield family


def _read_cache_metrics() -> ReadCacheMetrics:
    multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    metrics = ReadCacheMetrics(multiprocess=multiprocess)
    if not multiprocess:
        REGISTRY.register(metrics)
    return metrics


read_cache_metrics = _read_cache_metrics()
