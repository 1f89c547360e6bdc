"""The tutorial's approach to fetching, as a peer for faena's fetch_urls benchmark.

asyncio + aiohttp: one ClientSession, at most --concurrency requests in flight (a semaphore),
each page saved to --out as it arrives, like the tutorial's download script. Prints the wall
time, pages fetched and bytes, and the process's peak RSS.

    python bench/fetch_aiohttp.py --base http://127.0.0.1:18091 --n 10000 --concurrency 500 --out DIR
"""

import argparse
import asyncio
import os
import resource
import time

import aiohttp


async def fetch(session, sem, url, path):
    async with sem:
        async with session.get(url) as resp:
            body = await resp.read()
    with open(path, "wb") as f:
        f.write(body)
    return len(body)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=500)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    sem = asyncio.Semaphore(a.concurrency)
    conn = aiohttp.TCPConnector(limit=a.concurrency)
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=conn) as session:
        sizes = await asyncio.gather(
            *(
                fetch(session, sem, f"{a.base}/page/{i}", os.path.join(a.out, f"{i:05}.txt"))
                for i in range(a.n)
            )
        )
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"aiohttp    {wall:.3f} s  pages {len(sizes)}  bytes {sum(sizes)}  peak RSS {peak} kB")


asyncio.run(main())
