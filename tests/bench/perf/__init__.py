"""Pieces of the performance benchmark (tests/bench/test_performance.py), some shared with
the older benches: the notes sent, statistics, the served service, concurrent load,
measured commands and the report."""
