"""What the benchmarks share to report a timing."""


def p95(ordered: list[float]) -> float:
    """The 95th percentile of sorted values, by nearest rank (the value below which 95 % of
    them fall); 0 when there are none."""
    if not ordered:
        return 0
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
