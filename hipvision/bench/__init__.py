"""Benchmarks run by `hipvision bench NAME`: one module per NAME exposing
`DESCRIPTION`, `add_arguments(parser)` and `run(args) -> int`.

Benchmarks report medians and ratios measured in one run: these machines are noisy, so no
figure is ever compared across runs or checked by a timed test.
"""
