"""Run the registered benchmarks against a throwaway database and print ratios to baselines.

``python -m tests.benchmarks [--rounds N] [name filter ...]`` (``make bench``). The database
``bench_<pid>`` is created next to the one TEST_DATABASE_URL names and dropped afterwards.
"""

import argparse
import importlib
import os
import statistics
import sys
import time
import warnings


def setup_django() -> None:
    """Configure Django with the test settings (the real PostgreSQL and Redis of the machine)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    # Static files are not collected for a benchmark (the pytest configuration ignores it too).
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    import django

    django.setup()


def time_round(function, number: int) -> float:
    """Return the seconds per call of ``number`` calls of ``function``."""
    start = time.perf_counter()
    for _ in range(number):
        function()
    return (time.perf_counter() - start) / number


def measure(case, rounds: int) -> tuple[float, float]:
    """Return the median seconds per call of the subject and of the baseline.

    Rounds alternate subject and baseline so that both see the same machine conditions.
    """
    time_round(case.subject, case.number)  # warm up (imports, caches, connections)
    time_round(case.baseline, case.number)
    subject, baseline = [], []
    for _ in range(rounds):
        subject.append(time_round(case.subject, case.number))
        baseline.append(time_round(case.baseline, case.number))
    return statistics.median(subject), statistics.median(baseline)


def format_seconds(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.2f} {unit}"
    return f"{seconds / 1e-9:.0f} ns"


def print_table(rows: list[tuple[str, str, str, str, str]]) -> None:
    header = ("benchmark", "median", "baseline", "baseline median", "ratio")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for number, row in enumerate([header, *rows]):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            print("  ".join("-" * width for width in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__)
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per benchmark")
    parser.add_argument("names", nargs="*", help="run only benchmarks whose name contains one")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    setup_django()
    from django.db import connections
    from django.test.utils import (
        setup_databases,
        setup_test_environment,
        teardown_databases,
        teardown_test_environment,
    )

    from . import ALL_MODULES, MEMORY_REGISTRY, REGISTRY

    for module in ALL_MODULES:
        importlib.import_module(module)
    selected = [
        entry
        for entry in REGISTRY
        if not args.names or any(name.casefold() in entry.name.casefold() for name in args.names)
    ]
    memory = [
        entry
        for entry in MEMORY_REGISTRY
        if not args.names or any(name.casefold() in entry.name.casefold() for name in args.names)
    ]
    if not selected and not memory:
        print("No benchmark matches.", file=sys.stderr)
        return 2

    # A throwaway database of our own, whatever else runs on this server.
    connections["default"].settings_dict["TEST"]["NAME"] = f"bench_{os.getpid()}"
    setup_test_environment()
    old_config = setup_databases(verbosity=0, interactive=False)
    rows = []
    failed = False
    try:
        if selected:
            print(
                f"{len(selected)} benchmarks, {args.rounds} rounds each; ratio = median / baseline"
            )
        for entry in selected:
            subject, baseline = measure(entry.prepare(), args.rounds)
            rows.append(
                (
                    entry.name,
                    format_seconds(subject),
                    entry.baseline,
                    format_seconds(baseline),
                    f"{subject / baseline:.1f}x",
                )
            )
        if rows:
            print_table(rows)
        for memory_entry in memory:
            failed |= not run_memory_benchmark(memory_entry)
    finally:
        connections.close_all()
        teardown_databases(old_config, verbosity=0)
        teardown_test_environment()
    return 1 if failed else 0


def run_memory_benchmark(entry) -> bool:
    """Measure and print one memory benchmark; return whether its ratio is under its limit."""
    case = entry.prepare()
    (small_size, small), (large_size, large) = case.small, case.large
    small_kib, large_kib = case.measure(small), case.measure(large)
    ratio = large_kib / small_kib
    verdict = "ok" if ratio < case.limit else "OVER THE LIMIT"
    print()
    print(entry.name)
    print(f"  peak RSS, {small_size:>9,} rows: {small_kib / 1024:8.1f} MiB")
    print(f"  peak RSS, {large_size:>9,} rows: {large_kib / 1024:8.1f} MiB")
    print(f"  ratio {ratio:.2f} (limit {case.limit}): {verdict}")
    return ratio < case.limit


if __name__ == "__main__":
    sys.exit(main())
