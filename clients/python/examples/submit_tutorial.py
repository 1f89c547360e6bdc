"""Submits one job of each tutorial kind to faena and waits for their results.

    python examples/submit_tutorial.py --url http://127.0.0.1:8080 --page http://127.0.0.1:8000/

Needs ``examples/tutorial_worker.py`` running against the same server.
"""

from __future__ import annotations

import argparse
import json

import faena


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--api-key", help="a submit key")
    parser.add_argument("--page", action="append", default=[], help="a URL to download (repeatable)")
    args = parser.parse_args()
    with faena.Client(args.url, args.api_key) as client:
        jobs = [
            client.submit("primes", {"start": s, "end": s + 250_000}) for s in range(0, 1_000_000, 250_000)
        ]
        jobs.append(client.submit("factorial_digits", {"numbers": [5000, 10000]}))
        jobs.append(client.submit("count_words", {"texts": ["to be or not to be", "that is the question"]}))
        if args.page:
            fetch = client.submit("download", {"urls": args.page})
            jobs += [fetch, client.submit("count_words", {"source_job": fetch.id, "top": 3})]
        for job in jobs:
            done = client.wait(job.id, timeout=300)
            result = done.result
            if done.kind == "download":
                result = [{k: p[k] for k in ("url", "status", "bytes")} for p in result["pages"]]
            print(f"{done.kind} {json.dumps(done.params)[:60]}: {done.status} {json.dumps(result)}")


if __name__ == "__main__":
    main()
