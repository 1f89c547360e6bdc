"""The HTTP plumbing shared by ``Client`` and ``Worker``: one ``httpx.Client`` per user,
JSON in and out, problem documents turned into ``ApiError``, transport errors into
``ConnectionFailed``.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import httpx

from . import __version__
from .errors import ConnectionFailed, api_error

__all__ = ["Http"]


class Http:
    """A thin JSON wrapper around ``httpx.Client`` bound to one server and key."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        timeout: float,
        *,
        pool: int = 10,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"user-agent": f"faena-python/{__version__}", "accept": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        self.base = url.rstrip("/")
        self.timeout = timeout
        self.client = httpx.Client(
            base_url=self.base,
            headers=headers,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, Any, httpx.Headers]:
        """Sends one request; returns ``(status, decoded JSON or None, headers)`` on 2xx.

        Raises ``ApiError`` (a subclass by status and code) on any other status and
        ``ConnectionFailed`` when no answer came.
        """
        content = None
        hdrs = dict(headers or {})
        if body is not None:
            content = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
            hdrs["content-type"] = "application/json"
        try:
            resp = self.client.request(
                method,
                path,
                content=content,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers=hdrs,
                timeout=self.timeout if timeout is None else timeout,
            )
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"{method} {self.base}{path}: {exc!r}") from exc
        data: Any = None
        if resp.content:
            try:
                data = resp.json()
            except ValueError:
                data = None
        if resp.is_success:
            return resp.status_code, data, resp.headers
        problem = data if isinstance(data, dict) else {"detail": resp.text[:500]}
        raise api_error(resp.status_code, problem, _retry_after(resp.headers))

    def close(self) -> None:
        self.client.close()


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    try:
        return None if value is None else float(value)
    except ValueError:
        return None
