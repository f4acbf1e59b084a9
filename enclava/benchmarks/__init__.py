"""Benchmarks importable by the CLI (`enclava bench ...`) and by the scripts under bench/."""

from enclava.benchmarks.e2e import E2E_STAGES, format_table, run_e2e, summarize

__all__ = ["E2E_STAGES", "format_table", "run_e2e", "summarize"]
