"""Start and stop real faena servers, for tests and benchmarks.

``Server`` runs ``faena serve`` (the binary at ``FAENA_BIN``, or given) on a free port of
127.0.0.1, with its log in a file, waits for ``/readyz``, and stops it by its PID (SIGTERM,
then SIGKILL). ``sqlite_url(dir)`` gives a fresh SQLite store in a directory;
``PgSchema`` makes a scratch schema on a PostgreSQL server (with the ``psql`` CLI) and the
URL that puts faena's tables in it, and drops it afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Sequence

import httpx

__all__ = ["Server", "PgSchema", "sqlite_url", "default_binary"]

_LISTENING = re.compile(r"faena listening on (http://[0-9.:\[\]a-f]+)")


def default_binary() -> str:
    """``FAENA_BIN``, else ``faena`` on the ``PATH``."""
    return os.environ.get("FAENA_BIN") or shutil.which("faena") or "faena"


def sqlite_url(directory: str | Path) -> str:
    """A SQLite store in ``directory``."""
    return f"sqlite://{Path(directory).resolve() / 'faena.db'}"


class Server:
    """One ``faena serve`` process; ``url`` once started (``start()`` again restarts it)."""

    def __init__(
        self,
        database_url: str,
        args: Sequence[str] = (),
        *,
        binary: str | None = None,
        log_path: str | Path,
        instance_id: str | None = None,
        listen: str = "127.0.0.1:0",
    ) -> None:
        self.binary = binary or default_binary()
        self.database_url = database_url
        self.args = list(args)
        self.log_path = Path(log_path)
        self.instance_id = instance_id
        self.listen = listen
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> Server:
        """Starts the server and waits until it answers ``/readyz``."""
        cmd = [self.binary, "serve", "--listen", self.listen, "--database-url", self.database_url]
        if self.instance_id:
            cmd += ["--instance-id", self.instance_id]
        cmd += self.args
        env = dict(os.environ, NO_COLOR="1", RUST_LOG=os.environ.get("FAENA_TEST_RUST_LOG", "info,sqlx=warn"))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        seen = self.log_path.stat().st_size if self.log_path.exists() else 0  # a restart appends
        self.url = ""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while not self.url:
            if self.proc.poll() is not None:
                raise RuntimeError(f"faena exited with {self.proc.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"faena did not start in {timeout} s: {self.log_tail()}")
            found = _LISTENING.search(self.log_path.read_bytes()[seen:].decode(errors="replace"))
            if found:
                self.url = found.group(1)
            else:
                time.sleep(0.02)
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"faena not ready in {timeout} s: {self.log_tail()}")
            time.sleep(0.02)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout`` s."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PgSchema:
    """A fresh schema on the PostgreSQL server at ``admin_url``; ``url`` puts faena in it."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.schema = f"faena_py_{uuid.uuid4().hex[:16]}"
        sep = "&" if "?" in admin_url else "?"
        self.url = f"{admin_url}{sep}options[search_path]={self.schema}&application_name={self.schema}"

    def create(self) -> PgSchema:
        self._psql(f"CREATE SCHEMA {self.schema}")
        return self

    def drop(self) -> None:
        self._psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE application_name = '{self.schema}'; DROP SCHEMA IF EXISTS {self.schema} CASCADE"
        )

    def _psql(self, sql: str) -> None:
        subprocess.run(
            ["psql", self.admin_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
            check=True,
            capture_output=True,
            timeout=60,
        )
