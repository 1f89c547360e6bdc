"""The tutorial's functions as faena worker kinds, run by one Python worker.

* ``primes`` {"start", "end"} → {"count"}: primes in [start, end) by trial division
  (``es_primo``), in a child process (CPU-bound; a deadline or cancel can terminate it).
* ``factorial_digits`` {"numbers": [n, ...]} → {"results": [{"n", "digits"}]}: n! by a plain
  loop, its digits by ``len(str(...))``, in a child process.
* ``download`` {"urls": [...], "concurrency": 8} → {"pages": [{"url", "status", "bytes",
  "text"}]}: pages fetched with ``httpx.AsyncClient`` on the asyncio executor.
* ``count_words`` {"texts": [...]} or {"source_job": "<download job id>"} → {"total_words",
  "files": [{"name", "words"}], "top_words": [{"word", "count"}]}: words as ``str.split()``
  counts them. (Not ``word_count``: a worker kind may not take a built-in kind's name.)

Start the server with the kinds, then this worker::

    faena serve --worker-kinds primes,factorial_digits,download,count_words
    python examples/tutorial_worker.py --url http://127.0.0.1:8080

``examples/submit_tutorial.py`` submits one job of each and prints the results. With API keys,
``--api-key`` is a worker key and ``--read-key`` a submit key that ``count_words`` uses to read
the ``download`` job it counts (worker keys cannot read jobs).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import sys
from typing import Any

import httpx

import faena

KINDS = ["primes", "factorial_digits", "download", "count_words"]


def es_primo(n: int) -> bool:
    """The tutorial's primality test: trial division by every d with d*d <= n."""
    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True


def primes(params: dict[str, Any], ctx: faena.JobContext) -> dict[str, int]:
    start, end = int(params["start"]), int(params["end"])
    if not 0 <= start <= end:
        raise faena.FatalError("need 0 <= start <= end")
    count = 0
    for n in range(start, end):
        count += es_primo(n)
        if n % 10_000 == 0:
            ctx.progress(n - start, end - start)
            ctx.raise_if_cancelled()
    ctx.progress(end - start, end - start)
    return {"count": count}


def factorial_digits(params: dict[str, Any], ctx: faena.JobContext) -> dict[str, Any]:
    if hasattr(sys, "set_int_max_str_digits"):  # Python 3.10.7 and later limit str(int)
        sys.set_int_max_str_digits(0)
    numbers = [int(n) for n in params["numbers"]]
    results = []
    for i, n in enumerate(numbers):
        f = 1
        for k in range(2, n + 1):
            f *= k
            if k % 1000 == 0:
                ctx.raise_if_cancelled()
        results.append({"n": n, "digits": len(str(f))})
        ctx.progress(i + 1, len(numbers))
    return {"results": results}


async def download(params: dict[str, Any], ctx: faena.JobContext) -> dict[str, Any]:
    urls = list(params["urls"])
    limit = asyncio.Semaphore(int(params.get("concurrency", 8)))
    done = 0

    async def fetch(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
        nonlocal done
        async with limit:
            try:
                resp = await client.get(url)
                page = {"url": url, "status": resp.status_code, "bytes": len(resp.content), "text": resp.text}
            except httpx.HTTPError as exc:
                page = {"url": url, "status": None, "bytes": None, "text": None, "error": repr(exc)}
        done += 1
        ctx.progress(done, len(urls))
        return page

    async with httpx.AsyncClient(timeout=float(params.get("timeout_s", 10)), follow_redirects=True) as client:
        pages = await asyncio.gather(*(fetch(client, u) for u in urls))
    return {"pages": pages}


def count_words(params: dict[str, Any], ctx: faena.JobContext) -> dict[str, Any]:
    if "source_job" in params:
        with faena.Client(READ["url"], READ["key"]) as client:
            source = client.wait(params["source_job"], timeout=60)
        if source.status != "succeeded" or source.kind != "download":
            raise faena.FatalError(
                f"job {source.id} is a {source.status} {source.kind}, not a succeeded download"
            )
        named = [(p["url"], p["text"]) for p in source.result["pages"] if p.get("text") is not None]
    else:
        named = [(f"text-{i}", t) for i, t in enumerate(params["texts"])]
    total: collections.Counter[str] = collections.Counter()
    files = []
    for i, (name, text) in enumerate(named):
        words = text.split()
        total.update(w.lower() for w in words)
        files.append({"name": name, "words": len(words)})
        ctx.progress(i + 1, len(named))
    top = sorted(total.items(), key=lambda wc: (-wc[1], wc[0]))[: int(params.get("top", 10))]
    return {
        "total_words": sum(f["words"] for f in files),
        "files": files,
        "top_words": [{"word": w, "count": n} for w, n in top],
    }


READ: dict[str, Any] = {"url": "", "key": None}


def build(
    url: str, api_key: str | None, read_key: str | None, concurrency: int, name: str | None
) -> faena.Worker:
    """The worker with the four kinds registered."""
    READ.update(url=url, key=read_key)
    worker = faena.Worker(url, api_key, concurrency=concurrency, name=name)
    worker.kind("primes", executor="process")(primes)
    worker.kind("factorial_digits", executor="process")(factorial_digits)
    worker.kind("download", executor="async")(download)
    worker.kind("count_words", executor="thread")(count_words)
    return worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--api-key", help="a worker key")
    parser.add_argument("--read-key", help="a submit key, for count_words to read download jobs")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--name")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    build(args.url, args.api_key, args.read_key, args.concurrency, args.name).run()


if __name__ == "__main__":
    main()
