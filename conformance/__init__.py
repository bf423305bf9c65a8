"""The conformance suite: every documented output of the textbook seeds, as a case that runs
on every backend with portconv's public API only.

Run one backend with ``python -m conformance.run --backend numpy``; the nox session
``conformance`` runs each backend in its own environment and merges the results into one
matrix (``python -m conformance.report``).
"""
