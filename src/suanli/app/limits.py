"""Sanity limits on the sizes a user may ask for, shared by the CLI and the web API.

Well beyond any real deployment or workload, small enough that no input makes suanli
allocate without bound or print a meaningless number without a word.  The web adds
tighter per-request work bounds of its own (:mod:`suanli.web.deps`).
"""

from __future__ import annotations

MAX_GPUS = 4096               # accelerators in one deployment; also any parallel size
MAX_TOKENS = 1_048_576        # ISL / OSL, tokens
MAX_RATE = 1e6                # requests/s
MAX_CONCURRENCY = 1e6         # concurrent requests
MAX_REQUESTS_SENT = 10**9     # requests a benchmark run sends in total
MAX_MS = 1e7                  # latency targets, ms
MAX_LEASE_MONTHS = 240        # a lease term (20 years)
BURST_CV = (0.01, 100.0)      # coefficient of variation of bursty inter-arrival times
