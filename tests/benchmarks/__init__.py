"""Benchmarks as ratios to a baseline measured in the same run: ``python -m tests.benchmarks``.

Absolute timings depend on the machine; a ratio to a baseline timed alongside does much less, so
the report gives ratios and never passes or fails on a time. Not collected by pytest (no
``test_*.py`` here).

Add a benchmark by registering a function in a module of this package (import the module in
``ALL_MODULES`` below). It runs with Django set up against a throwaway database and returns a
``Case``: the code to time, the baseline to time against, and how many calls make one round::

    @benchmark("alerts: list 200 open alerts", baseline="GET /healthz")
    def alert_list() -> Case:
        client = staff_client()
        ...arrange rows...
        return Case(
            subject=lambda: client.get("/api/v1/alerts/"),
            baseline=lambda: client.get("/healthz"),
        )
"""

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "ALL_MODULES",
    "MEMORY_REGISTRY",
    "REGISTRY",
    "Benchmark",
    "Case",
    "MemoryBenchmark",
    "MemoryCase",
    "benchmark",
    "memory_benchmark",
]

# Modules whose import registers benchmarks (in the order they are reported).
ALL_MODULES = [
    "tests.benchmarks.instruments",
    "tests.benchmarks.clinical",
    "tests.benchmarks.exports",
]


@dataclass(frozen=True)
class Case:
    """What one benchmark times: ``subject`` against ``baseline``, ``number`` calls per round."""

    subject: Callable[[], object]
    baseline: Callable[[], object]
    number: int = 1


@dataclass(frozen=True)
class Benchmark:
    name: str
    baseline: str
    prepare: Callable[[], Case]


REGISTRY: list[Benchmark] = []


def benchmark(name: str, *, baseline: str) -> Callable[[Callable[[], Case]], Callable[[], Case]]:
    """Register a function that arranges a benchmark and returns its ``Case``."""

    def register(prepare: Callable[[], Case]) -> Callable[[], Case]:
        if any(entry.name == name for entry in REGISTRY):
            raise ValueError(f"a benchmark named {name!r} is already registered")
        REGISTRY.append(Benchmark(name=name, baseline=baseline, prepare=prepare))
        return prepare

    return register


@dataclass(frozen=True)
class MemoryCase:
    """A memory benchmark: peak memory of ``small`` and ``large`` (each ``(size, function)``),
    measured by ``measure(function) -> KiB``; the report gives the large/small ratio and whether
    it stays under ``limit``."""

    small: tuple[int, Callable[[], object]]
    large: tuple[int, Callable[[], object]]
    measure: Callable[[Callable[[], object]], int]
    limit: float


@dataclass(frozen=True)
class MemoryBenchmark:
    name: str
    prepare: Callable[[], MemoryCase]


MEMORY_REGISTRY: list[MemoryBenchmark] = []


def memory_benchmark(name: str) -> Callable[[Callable[[], MemoryCase]], Callable[[], MemoryCase]]:
    """Register a function that arranges a memory benchmark and returns its ``MemoryCase``."""

    def register(prepare: Callable[[], MemoryCase]) -> Callable[[], MemoryCase]:
        if any(entry.name == name for entry in MEMORY_REGISTRY):
            raise ValueError(f"a memory benchmark named {name!r} is already registered")
        MEMORY_REGISTRY.append(MemoryBenchmark(name=name, prepare=prepare))
        return prepare

    return register
