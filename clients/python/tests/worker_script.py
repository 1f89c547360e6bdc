"""A worker in a process of its own, for the tests that kill it: ``URL KIND NAME [GRACE]``.

Runs ``handlers.sleep_then_echo`` for KIND on threads (concurrency 2) until a signal."""

from __future__ import annotations

import logging
import os
import sys

import faena

import handlers

if __name__ == "__main__":
    url, kind, name = sys.argv[1:4]
    grace = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
    os.environ["TEST_WORKER_NAME"] = name
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    worker = faena.Worker(
        url, concurrency=2, name=name, heartbeat_interval=0.2, claim_wait_ms=5000, grace_period=grace
    )
    worker.kind(kind)(handlers.sleep_then_echo)
    worker.run()
    print(f"stopped: {worker.stats}", flush=True)
