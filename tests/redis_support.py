"""A redis-server of the tests' own, on a free loopback port, without persistence.

Shared by tests/test_redis_backend.py and tests/test_conformance.py (the kit run against
`redis_registry` in class lease): `start_or_skip()` starts one (installing Debian's
package when it is absent and this user may, as .ci/run does) or skips the test (fails
it under CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest


def redis_server_binary() -> str | None:
    """redis-server's path, installing Debian's package when it is absent and this user may (as .ci/run does)."""
    found = shutil.which("redis-server")
    if found or os.environ.get("REGSPEC_NO_INSTALL"):
        return found
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], env=env, capture_output=True, timeout=600)
    return shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own on 127.0.0.1:port, no persistence; `restart()` loses every key."""

    def __init__(self, binary: str, port: int):
        self.binary, self.port, self.proc = binary, port, None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        import redis
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--loglevel", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self):
        import redis
        return redis.Redis.from_url(self.url, decode_responses=True)


def start_or_skip() -> RedisServer:
    """A started server; the test is skipped (failed under CI) when redis-server cannot be had."""
    pytest.importorskip("redis", reason="the `redis` package is missing: pip install -e '.[test]'")
    binary = redis_server_binary()
    if binary is None:
        reason = ("redis-server is not installed and could not be installed here (Debian: apt-get install "
                  "redis-server; .ci/run installs it)")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    srv = RedisServer(binary, free_port())
    srv.start()
    return srv
