"""Foundations every stage uses: errors, units, strict config blocks and YAML/CSV reading, the kind registry,
random streams, statistics, and the process-level helpers (scheduling, heap, garbage collector, worker pool)."""
