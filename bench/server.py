"""A real gunicorn serving the app on 127.0.0.1, and HTTP clients that keep their connections alive."""

import http.client
import json
import math
import os
import queue
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .db import percentile

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    port: int
    pid: int

    def cpu_seconds(self) -> float:
        """CPU (user + system) used so far by the gunicorn workers (the master only supervises)."""
        return sum(_cpu(pid) for pid in _children(self.pid))

    def thread_cpu_seconds(self, name: str) -> float:
        """CPU used so far by the workers' threads named ``name`` (their OS name, as ``top -H`` shows it)."""
        total = 0.0
        for pid in _children(self.pid):
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/comm") as f:
                        if f.read().strip() != name[:15]:
                            continue
                except OSError:
                    continue
                total += _cpu(f"{pid}/task/{tid}")
        return total


def _proc_stat(pid: int | str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cpu(pid: int | str) -> float:
    fields = _proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def _children(parent: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _proc_stat(int(entry))
            if fields and int(fields[1]) == parent:
                pids.append(int(entry))
    return pids


def database_cpu(url: str, *, application_name: str | None = None) -> dict[int, float]:
    """CPU used so far by each backend connected to the database of ``url`` (this one excepted); only
    the sessions that named themselves ``application_name``, if given."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND (%s::text IS NULL OR application_name = %s::text)",
            (application_name, application_name),
        ).fetchall()
    return {pid: _cpu(pid) for (pid,) in rows}


def server_cpu(url: str) -> float:
    """CPU used so far by the whole PostgreSQL server of ``url`` when it runs on this machine (else 0): its
    processes alive now and the backends it has reaped (the kernel adds an exited child's CPU to its
    parent's). So the connections a run opened and closed, which ``database_cpu`` cannot see afterwards,
    count; so does any work of other databases on the same server meanwhile."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        fields = _proc_stat(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
    postmaster = int(fields[1]) if fields else None
    own = _proc_stat(postmaster) if postmaster else None
    if not own:
        return 0.0
    reaped = (int(own[13]) + int(own[14])) / os.sysconf("SC_CLK_TCK")
    return _cpu(postmaster) + reaped + sum(_cpu(pid) for pid in _children(postmaster))


def children_cpu() -> float:
    """CPU used so far by this process's children that have exited (a pool's processes, once it is shut)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_times() -> tuple[int, int]:
    """(steal, total) CPU ticks of this machine so far (``/proc/stat``; (0, 0) where there is none): the
    share of a run's ticks a hypervisor gave other machines, ``steal_share``, says how far its seconds
    can be compared with another run's."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks[:8])


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    ticks = after[1] - before[1]
    return round((after[0] - before[0]) / ticks, 3) if ticks > 0 else 0.0


@contextmanager
def gunicorn(*, env: dict[str, str], workers: int, clients: int) -> Iterator[Server]:
    """Serve the app with gthread workers (keep-alive) until the block ends."""
    port = _free_port()
    threads = max(2, math.ceil(clients / workers))
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", "gthread",
        "--threads", str(threads),
        "--keep-alive", "75",
        "--timeout", "300",
        "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_ready(port, process, log.name)
        yield Server(port=port, pid=process.pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # our own session: gunicorn and its workers only
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
        errors = Path(log.name).read_text(errors="replace")
        if "Traceback" in errors or "Error" in errors:
            print(f"bench: gunicorn reported errors:\n{errors[-6000:]}", file=sys.stderr)
        os.unlink(log.name)


def _wait_ready(port: int, process: subprocess.Popen, log_path: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{Path(log_path).read_text()[-4000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/login/")
            if conn.getresponse().status < 500:
                conn.close()
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within {timeout}s:\n{Path(log_path).read_text()[-4000:]}")


def post_all(*, port: int, path: str, token: str, bodies: Sequence[bytes], clients: int) -> dict:
    """POST every body from ``clients`` threads, one keep-alive connection each; time it all."""
    work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for body in bodies:
        work.put(body)
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    latencies: list[float] = []
    answers: list[dict] = []
    failures: list[str] = []
    connects = [0]
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        mine_latency, mine_answers = [], []
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                break
            start = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            mine_latency.append(time.perf_counter() - start)
            if response.status == 200:
                mine_answers.append(json.loads(data))
            else:
                with lock:
                    failures.append(f"{response.status}: {data[:500].decode(errors='replace')}")
            if response.will_close:  # the server closed the connection: count it, reconnect
                conn.close()
                with lock:
                    connects[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine_latency)
            answers.extend(mine_answers)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "seconds": seconds,
        "batches": len(bodies),
        "answers": answers,
        "failures": failures,
        "reconnects": connects[0],
        "latency_ms": {
            "p50": round(1000 * percentile(latencies, 0.50), 1),
            "p95": round(1000 * percentile(latencies, 0.95), 1),
            "max": round(1000 * (latencies[-1] if latencies else 0), 1),
        },
    }
