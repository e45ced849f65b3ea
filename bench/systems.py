"""The systems under test: start each as a server process on a free port, stop it at the end."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.client import Client
from bench.protocols import DB, DOMAIN

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class Unavailable(RuntimeError):
    """The system cannot run here; the message goes into its row."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def disk_bytes(folder: Path) -> int:
    """Bytes allocated on disk under ``folder``."""
    total = 0
    for root, _, files in os.walk(folder):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def peak_rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class System:
    """A server process with its own temporary folder; ``flavor`` picks the protocol."""

    name = ""
    flavor = ""
    step_note = ""

    def __init__(self) -> None:
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix=f"wattbase-bench-{self.flavor}-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.secret: str | None = None
        self.log = self.tmp / "server.log"

    def start(self) -> None:
        raise NotImplementedError

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

    def _wait(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        client = Client(self.port)
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise Unavailable(f"exited at start: {self._tail()}")
            try:
                client.get(path)
                return
            except Exception:
                time.sleep(0.2)
            finally:
                client.close()
        raise Unavailable(f"no answer on {path} after {timeout:.0f} s")

    def _tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:200] if lines else ""

    def client(self) -> Client:
        from bench.protocols import headers

        return Client(self.port, headers(self.flavor, self.secret))

    def flush(self) -> None:
        """Make what was written visible to reads and on disk."""

    def data_bytes(self) -> int | None:
        return disk_bytes(self.tmp)

    def peak_rss(self) -> int | None:
        return None if self.proc is None else peak_rss_bytes(self.proc.pid)

    def compact(self) -> tuple[int, int] | None:
        """Stop the server and give its store's dead space back: (bytes, points) after."""
        return None

    def _end_process(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self) -> None:
        self._end_process()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Wattbase(System):
    """``wattbase serve`` on the embedded store, or on PostgreSQL when ``database_url`` is set."""

    flavor = "wattbase"

    def __init__(self, database_url: str | None = None) -> None:
        super().__init__()
        self.database_url = database_url
        self.name = "wattbase (PostgreSQL)" if database_url else "wattbase (embedded)"
        self.env = {**os.environ, "WATTBASE_DATA_DIR": str(self.tmp / "data")}
        self.env.pop("WATTBASE_DATABASE_URL", None)
        if database_url:
            self.env["WATTBASE_DATABASE_URL"] = database_url
        self.env["WATTBASE_LOG_LEVEL"] = "warning"
        self.env["WATTBASE_MAX_RAW_POINTS"] = "1000000"

    def _cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "wattbase"), *args], env=self.env, capture_output=True, text=True
        )
        if done.returncode:
            message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
            if "not built" in message:
                raise Unavailable("not built yet")
            raise Unavailable(message)
        return done.stdout.strip()

    def start(self) -> None:
        self._cli("domain", "create", DOMAIN, "--timezone", "Europe/Stockholm")
        # One key makes every request here, past the default 1,000 a second a key may make:
        # the benchmark measures the server, not the limit an operator sets.
        self._cli("domain", "set-rate", DOMAIN, "--per-second", "1000000", "--burst", "1000000")
        self.secret = self._cli("key", "create", "--domain", DOMAIN, "--scopes", "read,write")
        self._spawn(
            [str(BIN / "wattbase"), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            self.env,
        )
        self._wait("/healthz")
        self.client().post(f"/{DOMAIN}/api/v1/nodes", b'{"name": "bench meter"}')

    def flush(self) -> None:
        """The embedded store rolls up hours and checkpoints once writes have paused for a
        second: wait for it, so bytes on disk count compressed data, not the write-ahead
        log, and reads find the rollup that any pause in writing would give them."""
        if self.database_url:
            return
        time.sleep(2)
        wal = self.tmp / "data" / "wattbase.duckdb.wal"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and wal.exists() and wal.stat().st_size > 0:
            time.sleep(0.2)

    def data_bytes(self) -> int | None:
        if self.database_url:
            return None
        return disk_bytes(self.tmp / "data")

    def compact(self) -> tuple[int, int] | None:
        """``wattbase compact`` on the stopped embedded store (PostgreSQL: not needed)."""
        if self.database_url:
            return None
        self._end_process()
        done = subprocess.run(
            [str(BIN / "wattbase"), "compact"], env=self.env, capture_output=True, text=True
        )
        found = re.search(r"compacted (\d+) points", done.stderr)
        if done.returncode or found is None:
            raise RuntimeError(f"wattbase compact failed: {done.stderr.strip()[-200:]}")
        return disk_bytes(self.tmp / "data"), int(found.group(1))


class InfluxDB(System):
    name = "InfluxDB 1.6"
    flavor = "influxdb"

    def start(self) -> None:
        binary = ensure_installed("influxd", "influxdb")
        rpc = free_port()
        d = self.tmp
        conf = d / "influxdb.conf"
        conf.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  max-values-per-tag = 0
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
"""
        )
        self._spawn([binary, "-config", str(conf)])
        self._wait("/ping")
        Client(self.port).post(f"/query?q=CREATE+DATABASE+{DB}", b"")

    def data_bytes(self) -> int | None:
        return disk_bytes(self.tmp / "data") + disk_bytes(self.tmp / "wal")


class Victoria(System):
    name = "VictoriaMetrics"
    flavor = "victoria"

    def start(self) -> None:
        binary = ensure_installed("victoria-metrics", "victoria-metrics")
        self._spawn(
            [
                binary,
                f"-storageDataPath={self.tmp / 'data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",
                "-search.maxPointsPerTimeseries=10000000",
                "-search.latencyOffset=0s",
                "-loggerLevel=ERROR",
            ]
        )
        self._wait("/health")

    def flush(self) -> None:
        Client(self.port).get("/internal/force_flush")
        time.sleep(1)

    def data_bytes(self) -> int | None:
        return disk_bytes(self.tmp / "data")


_apt_updated = False


def ensure_installed(binary: str, package: str) -> str:
    """The binary's path, installing its Debian package first when it is missing."""
    global _apt_updated
    found = shutil.which(binary)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable(f"{binary} missing; install the Debian package {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"installing {package} with apt-get ...", file=sys.stderr)
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        _apt_updated = True
    done = subprocess.run(
        ["apt-get", "install", "-y", "-qq", package], env=env, capture_output=True, text=True
    )
    found = shutil.which(binary)
    if not found:
        tail = (done.stderr or done.stdout).strip().splitlines()
        raise Unavailable(f"apt-get install {package} failed: {tail[-1] if tail else '?'}")
    return found


class WattbasePostgres(Wattbase):
    """wattbase on PostgreSQL, in a database of its own that is dropped at the end."""

    def __init__(self, admin_url: str) -> None:
        super().__init__(admin_url)
        self.admin_url = admin_url
        self.database = f"wattbase_bench_{os.getpid()}"
        self.created = False

    def start(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {self.database}")
        except psycopg.Error as exc:
            raise Unavailable(f"cannot create a database: {exc}".splitlines()[0]) from exc
        self.created = True
        base, _, _ = self.admin_url.rpartition("/")
        self.database_url = f"{base}/{self.database}"
        self.env["WATTBASE_DATABASE_URL"] = self.database_url
        super().start()

    def data_bytes(self) -> int | None:
        import psycopg

        assert self.database_url is not None
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return None if row is None else int(row[0])

    def stop(self) -> None:
        super().stop()
        if self.created:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {self.database}")
