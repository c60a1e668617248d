"""What a server counts: requests, tokens, latency, queue depth and errors, as a result object
and as Prometheus text for ``GET /metrics``."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Meter", "ServeStats"]

#: latency histogram buckets (seconds), as Prometheus clients use
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, float("inf"))
_KEEP = 10_000  # latencies kept for the percentiles


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class ServeStats(Result):
    """A server's counts so far: requests, errors, tokens and latency percentiles."""

    url: str
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    queue_depth: int
    batches: int
    mean_batch: float
    uptime_s: float
    by_model: dict[str, int] = field(default_factory=dict)

    _title = "llmops serve"

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second of uptime."""
        return self.completion_tokens / self.uptime_s if self.uptime_s > 0 else 0.0

    def to_frame(self) -> pd.DataFrame:
        """One row per figure."""
        return self.fields_frame()

    def _summary(self) -> str:
        return (
            f"{self.url}: {self.requests} requests ({self.errors} errors), "
            f"{self.completion_tokens} tokens generated, latency p50 {self.latency_p50_s:.2f}s "
            f"p95 {self.latency_p95_s:.2f}s, mean batch {self.mean_batch:.1f}"
        )

    def __repr__(self) -> str:
        return self._summary()


class Meter:
    """Thread-safe counters behind :class:`ServeStats` and ``/metrics``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.started = clock()
        self.requests: Counter[tuple[str, str, int]] = Counter()  # (endpoint, model, status)
        self.prompt_tokens: Counter[str] = Counter()
        self.completion_tokens: Counter[str] = Counter()
        self.buckets: Counter[tuple[str, float]] = Counter()
        self.latency_sum: dict[str, float] = {}
        self.latencies: deque[float] = deque(maxlen=_KEEP)
        self.batches = 0
        self.batched = 0

    def batch(self, size: int) -> None:
        """Count one forward batch of ``size`` requests."""
        with self._lock:
            self.batches += 1
            self.batched += size

    def record(
        self,
        endpoint: str,
        model: str,
        status: int,
        latency: float,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> None:
        """Count one finished request."""
        with self._lock:
            self.requests[(endpoint, model, status)] += 1
            if status < 400:
                self.prompt_tokens[model] += prompt_tokens
                self.completion_tokens[model] += completion_tokens
                self.latencies.append(latency)
                self.latency_sum[model] = self.latency_sum.get(model, 0.0) + latency
                for b in BUCKETS:
                    if latency <= b:
                        self.buckets[(model, b)] += 1

    def stats(self, url: str, depth: int) -> ServeStats:
        """The counts as a result object."""
        with self._lock:
            lat = list(self.latencies)
            total = sum(self.requests.values())
            errors = sum(n for (_, _, s), n in self.requests.items() if s >= 400)
            by_model: Counter[str] = Counter()
            for (_, m, _), n in self.requests.items():
                by_model[m] += n
            return ServeStats(
                url=url,
                requests=total,
                errors=errors,
                prompt_tokens=sum(self.prompt_tokens.values()),
                completion_tokens=sum(self.completion_tokens.values()),
                latency_p50_s=_percentile(lat, 0.5),
                latency_p95_s=_percentile(lat, 0.95),
                latency_p99_s=_percentile(lat, 0.99),
                queue_depth=depth,
                batches=self.batches,
                mean_batch=self.batched / self.batches if self.batches else 0.0,
                uptime_s=self._clock() - self.started,
                by_model=dict(by_model),
            )

    def prometheus(self, depth: int, loading: bool) -> str:
        """The Prometheus text exposition of every counter."""
        out: list[str] = []

        def family(name: str, kind: str, help: str, samples: list[tuple[str, Any]]) -> None:
            out.append(f"# HELP {name} {help}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(f"{name}{labels} {value}" for labels, value in samples)

        with self._lock:
            family(
                "llmops_requests_total",
                "counter",
                "Requests answered, by endpoint, model and HTTP status.",
                [
                    (f'{{endpoint="{e}",model="{_esc(m)}",status="{s}"}}', n)
                    for (e, m, s), n in sorted(self.requests.items())
                ],
            )
            family(
                "llmops_errors_total",
                "counter",
                "Requests answered with an error status.",
                [("", sum(n for (_, _, s), n in self.requests.items() if s >= 400))],
            )
            for kind, counter in (
                ("prompt", self.prompt_tokens),
                ("completion", self.completion_tokens),
            ):
                family(
                    f"llmops_{kind}_tokens_total",
                    "counter",
                    f"{kind.capitalize()} tokens, by model.",
                    [(f'{{model="{_esc(m)}"}}', n) for m, n in sorted(counter.items())],
                )
            samples: list[tuple[str, Any]] = []
            for model in sorted(self.latency_sum):
                for b in BUCKETS:
                    le = "+Inf" if b == float("inf") else f"{b:g}"
                    samples.append(
                        (f'_bucket{{model="{_esc(model)}",le="{le}"}}', self.buckets[(model, b)])
                    )
                samples.append((f'_sum{{model="{_esc(model)}"}}', self.latency_sum[model]))
                samples.append(
                    (f'_count{{model="{_esc(model)}"}}', self.buckets[(model, float("inf"))])
                )
            out.append("# HELP llmops_request_latency_seconds Time from request to last token.")
            out.append("# TYPE llmops_request_latency_seconds histogram")
            out.extend(f"llmops_request_latency_seconds{lab} {v}" for lab, v in samples)
            family(
                "llmops_batches_total",
                "counter",
                "Forward batches run (requests share them).",
                [("", self.batches)],
            )
        family("llmops_queue_depth", "gauge", "Requests waiting for a batch.", [("", depth)])
        family("llmops_loading", "gauge", "1 while models load.", [("", int(loading))])
        return "\n".join(out) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
