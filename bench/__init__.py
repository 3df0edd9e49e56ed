"""Benchmarks and their fake providers: tools that measure the product, not product code
(docs/benchmarks.md)."""
