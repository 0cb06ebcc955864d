"""Benchmark: synthetic and real evaluation documents, corpus, metrics, runner."""
