"""``Connection``: JSON ``POST``s over one keep-alive connection of ``http.client``, which
``abort()`` can cut mid-request.

The worker's two busy routes go this way: claims (``POST /workers/claim``), which long-poll
for up to ``wait_ms`` (20 s by default) and must end at once when the worker stops (httpx
offers no way to interrupt a request blocked in another thread; the server, seeing the
connection gone, hands back whatever the claim had taken, their attempts uncounted); and
answer batches (``POST /workers/complete``), one per handful of jobs, where a plain
``http.client`` request costs the worker a third of the CPU of one through httpx. Each user
(the claim loop, the sender) has a connection of its own: a ``Connection`` is not shared
between threads, except for ``abort()`` and ``close()``.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from typing import Any

from . import __version__
from .errors import ConnectionFailed, api_error

__all__ = ["Connection", "Aborted"]


#: What a kept-alive connection the server closed meanwhile raises on its next request
#: (``http.client.RemoteDisconnected`` is a ``ConnectionResetError``).
_CLOSED = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


class Aborted(Exception):
    """The request was cut by ``abort()``."""


class Connection:
    """One keep-alive connection to the server of ``url``, for JSON ``POST``s."""

    def __init__(self, url: str, api_key: str | None, timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._timeout = timeout
        self._headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "user-agent": f"faena-python/{__version__}",
        }
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._lock = threading.Lock()
        self._conn: http.client.HTTPConnection | None = None
        self._aborted = False

    def post(self, path: str, body: Any, timeout: float | None = None) -> dict[str, Any]:
        """Sends ``body`` as JSON to ``path`` and returns the JSON object of a 2xx answer;
        raises ``ApiError`` (any other status), ``ConnectionFailed`` (no answer, or a 2xx
        without a JSON object) or ``Aborted``. ``timeout`` (s) overrides the connection's,
        for a request that long-polls. A request is sent again only when a kept-alive
        connection turns out closed by the server (it never reached it); never after a
        timeout, when the server may have acted on it."""
        payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        target = self._base + path
        timeout = self._timeout if timeout is None else timeout
        for fresh_try in (False, True):
            conn, reused = self._connection(timeout)
            try:
                conn.request("POST", target, body=payload, headers=self._headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                self._drop(conn)
                if self._aborted:
                    raise Aborted() from exc
                if reused and not fresh_try and isinstance(exc, _CLOSED):
                    continue  # a keep-alive connection the server had closed: once more
                raise ConnectionFailed(f"POST {target}: {exc!r}") from exc
            if resp.will_close:
                self._drop(conn)
            try:
                doc = json.loads(data) if data else None
            except ValueError:
                doc = None
            if 200 <= resp.status < 300:
                if not isinstance(doc, dict):
                    raise ConnectionFailed(f"POST {target}: a {resp.status} answer without a JSON object")
                return doc
            problem = doc if isinstance(doc, dict) else {"detail": data[:500].decode("utf-8", "replace")}
            retry = resp.getheader("retry-after")
            raise api_error(resp.status, problem, float(retry) if retry and retry.isdigit() else None)
        raise AssertionError("unreachable")

    def abort(self) -> None:
        """Cuts the request in flight (if any); every later one raises ``Aborted``."""
        self._aborted = True  # seen by a claim still connecting, once it has connected
        with self._lock:
            conn = self._conn
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        """Closes the connection; every later request raises ``Aborted``."""
        self._aborted = True
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connection(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._aborted:
                raise Aborted()
            conn = self._conn
        reused = conn is not None
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=min(timeout, 10.0))
            try:
                conn.connect()
            except OSError as exc:
                conn.close()
                raise ConnectionFailed(f"connect {self._host}:{self._port}: {exc!r}") from exc
            with self._lock:  # registered before use, so that abort() finds its socket
                if self._aborted:
                    conn.close()
                    raise Aborted()
                self._conn = conn
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn, reused

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None
        conn.close()
