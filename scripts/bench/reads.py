"""Read throughput under 16 concurrent clients, against the server run as production runs
it (`atlas serve --workers 1 --no-upgrade`, ENVIRONMENT=production), with wrk in a separate
process (sending `Accept-Encoding: gzip`, as browsers, httpx and requests do by default):
GET /api/v1/sources/{id}, a filtered source list, open tensions and search, each
against the constant endpoint /ping of the same server in the same run (the ratio), in two
regimes:

* cold: a server started with READ_CACHE_MB=0, so every request is computed (GET
  /sources/{id} still takes its direct SQLite path, which is not a cache);
* warm: the default server, after every URL the load will use (but the random ids) was
  requested once on each worker, so that the read cache answers them all; a second request
  of a sample on each worker must answer `x-cache: hit` (checked and printed).

Also datasette serving the same SQLite file for the equivalent list query (it has no such
cache: compare it with the cold regime), and the server's resident memory (all its
processes, from /proc) with the set loaded.

    python scripts/bench/reads.py --database var/bench/set-1.db [--duration 10]

Reads only: the file is not written, but for the statistics (ANALYZE) the server adds at
start-up when there are none (serve a copy if other parts will write to it).
"""

import argparse
import json
import os
import random
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench.generate import WORDS, require_set

ROOT = Path(__file__).resolve().parents[2]

CONNECTIONS, THREADS = 16, 2
WORKERS = 1  # as production runs it: README "Number of server processes"
PAGE, MAX_PAGES = 50, 20  # list pages: the first 20 pages of 50 of each year


# ---------------------------------------------------------------- processes and memory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages divided among the processes that share them, so
    that the sum over processes is the memory they cost together."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no Pss for {pid}")


def children(pid: int) -> list[int]:
    """Direct child processes of `pid` (from /proc/*/stat)."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"resource_tracker" not in cmdline:
            out.append(int(proc.name))
    return sorted(out)


@dataclass
class Server:
    base: str
    master: int  # uvicorn's supervisor, or with one worker the one server process
    process: subprocess.Popen[bytes]
    idle: dict[int, float]  # each process's resident memory (MB) before any request

    def workers(self) -> list[int]:
        return children(self.master) or [self.master]

    def processes(self) -> list[int]:
        return sorted({self.master, *self.workers()})

    def memory(self) -> dict[str, float]:
        workers = [rss_mb(p) for p in self.workers()]
        return {
            "pss_total_mb": round(sum(pss_mb(p) for p in self.processes()), 1),
            "rss_total_mb": round(sum(rss_mb(p) for p in self.processes()), 1),
            "rss_worker_max_mb": round(max(workers), 1),
            "rss_idle_total_mb": round(sum(self.idle.values()), 1),
            "processes": float(len(self.processes())),
        }


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def production_server(
    database: Path, log: Path, workers: int = WORKERS, **env: str
) -> Iterator[Server]:
    """`atlas serve --workers N --no-upgrade` as the Dockerfile runs it, on `database`;
    its output (access log included, as in production) goes to `log`."""
    port = free_port()
    environment = {
        **os.environ,
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": f"sqlite:///{database.resolve()}",
        "JOB_RUNNER": "none",
        "PLOTS_DIR": str(log.parent / "plots"),
        **env,
    }
    command = [str(Path(sys.executable).parent / "atlas"), "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--no-upgrade"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=environment, cwd=ROOT, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/health", process, log, 120)
        server = Server(base, process.pid, process, {})
        deadline = time.monotonic() + 60
        while workers > 1 and len(children(process.pid)) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"expected {workers} workers, found {children(process.pid)}")
            time.sleep(0.2)
        time.sleep(1)  # every worker finishes its start-up too
        server.idle = {pid: rss_mb(pid) for pid in server.processes()}
        yield server
    finally:
        stop(process)


def socket_owners(pids: list[int]) -> dict[int, int]:
    """Socket inode -> which of `pids` holds it open."""
    owners = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                owners[int(target[8:-1])] = pid
    return owners


def server_side(port: int, client_ports: set[int]) -> dict[int, int]:
    """Client port -> inode of the server's end of that TCP connection (/proc/net/tcp)."""
    out = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) in client_ports:
            out[int(remote.split(":")[1], 16)] = inode
    return out


def per_worker(server: Server, tries: int = 20) -> dict[int, socket.socket]:
    """One open connection accepted by each worker: connects until every worker holds one
    (the kernel hands connections to the workers unevenly), found through /proc."""
    port = int(server.base.rsplit(":", 1)[1])
    chosen: dict[int, socket.socket] = {}
    spare: list[socket.socket] = []
    for _ in range(tries):
        batch = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
        time.sleep(0.5)  # the workers' event loops accept them
        by_port = {s.getsockname()[1]: s for s in batch}
        owners = socket_owners(server.workers())
        for client_port, inode in server_side(port, set(by_port)).items():
            pid = owners.get(inode)
            if pid is not None and pid not in chosen:
                chosen[pid] = by_port.pop(client_port)
        spare += by_port.values()
        if len(chosen) == len(server.workers()):
            break
    for s in spare:
        s.close()
    if len(chosen) < len(server.workers()):
        raise RuntimeError(f"could not reach every worker: {sorted(chosen)} of {server.workers()}")
    return chosen


class Pinned:
    """A keep-alive HTTP/1.1 connection to one given worker; when the worker closes it (its
    keep-alive timeout while another worker was busy), a new one to the same worker is found."""

    def __init__(self, server: Server, pid: int, conn: socket.socket | None = None) -> None:
        self.server, self.pid, self.conn, self.buffer = server, pid, conn, b""

    def get(self, path: str) -> tuple[float, dict[str, str], bytes]:
        """Milliseconds, headers (lower-case names) and body; raises unless 200."""
        for attempt in range(2):
            if self.conn is None:
                found = per_worker(self.server)
                self.conn = found.pop(self.pid)
                for other in found.values():
                    other.close()
            try:
                return self._get(path)
            except (ConnectionError, OSError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _get(self, path: str) -> tuple[float, dict[str, str], bytes]:
        assert self.conn is not None
        started = time.perf_counter()
        self.conn.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines)}
        length = int(headers["content-length"])  # our answers always have one
        while len(self.buffer) < length:
            self._read()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        elapsed = (time.perf_counter() - started) * 1000
        if status.split()[1] != "200":
            raise RuntimeError(f"{path}: {status} {body[:300]!r}")
        return elapsed, headers, body

    def _read(self) -> None:
        assert self.conn is not None
        chunk = self.conn.recv(1 << 16)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buffer += chunk

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn, self.buffer = None, b""


def on_each_worker(
    server: Server, paths: list[str], seen: Callable[[int, str, float, dict[str, str], bytes], None]
) -> None:
    """GET every one of `paths` once on every worker, the workers in parallel (one thread
    each, on a connection that worker accepted); `seen(pid, path, ms, headers, body)`."""

    def one(pinned: Pinned) -> None:
        try:
            for path in paths:
                seen(pinned.pid, path, *pinned.get(path))
        finally:
            pinned.close()

    pinned = [Pinned(server, pid, conn) for pid, conn in per_worker(server).items()]
    with ThreadPoolExecutor(len(pinned)) as pool:
        for future in [pool.submit(one, p) for p in pinned]:
            future.result()


def warm_up(server: Server, paths: list[str]) -> dict[str, float]:
    """The first request of each of `paths` on every worker, before anything is timed: each
    worker builds its lazy state (the in-memory graph) then. Returns the slowest (ms)."""
    times: list[float] = []
    on_each_worker(server, paths, lambda pid, path, ms, headers, body: times.append(ms))
    return {"warm_up_first_ms": round(max(times), 1)}


def prime(server: Server, targets: list["Target"], seed: int) -> dict[str, float]:
    """The warm regime: every URL wrk will ask for (not the random ids, which take the
    direct path either way) requested once on each worker, so that each worker's read
    cache holds them all; then a second request of a sample of them on each worker must
    answer `x-cache: hit`. Prints what it did."""
    paths = [t.prefix + c for t in targets for c in t.choices]
    started = time.perf_counter()
    cached: dict[int, int] = {}

    def store(pid: int, path: str, ms: float, headers: dict[str, str], body: bytes) -> None:
        cached[pid] = cached.get(pid, 0) + len(body)

    on_each_worker(server, paths, store)
    seconds = time.perf_counter() - started
    rng = random.Random(seed)
    sample = [
        t.prefix + c
        for t in targets
        if t.choices
        for c in rng.sample(t.choices, min(10, len(t.choices)))
    ]
    hits: dict[int, int] = {}

    def hit(pid: int, path: str, ms: float, headers: dict[str, str], body: bytes) -> None:
        hits[pid] = hits.get(pid, 0) + (headers.get("x-cache") == "hit")

    on_each_worker(server, sample, hit)
    megabytes = max(cached.values()) / 1e6
    print(
        f"\n    primed {len(paths):,} URLs on each of {len(cached)} workers in {seconds:.0f} s "
        f"({megabytes:.1f} MB of answers per worker); x-cache: hit on a second request of "
        + ", ".join(f"{n}/{len(sample)} (worker {pid})" for pid, n in sorted(hits.items())),
        flush=True,
    )
    return {
        "prime_urls": float(len(paths)),
        "prime_seconds": round(seconds, 1),
        "prime_mb_per_worker": round(megabytes, 1),
        "hit_check_requests": float(len(sample) * len(hits)),
        "hit_check_hits": float(sum(hits.values())),
        "hit_check_share": round(sum(hits.values()) / (len(sample) * len(hits)), 3),
    }


# ---------------------------------------------------------------- wrk


@dataclass
class Target:
    """What wrk asks for: a fixed path, `prefix + random id in 1..ids`, or one of `choices`."""

    name: str
    prefix: str
    ids: int = 0
    choices: tuple[str, ...] = ()

    def sample(self, rng: random.Random) -> str:
        if self.ids:
            return f"{self.prefix}{rng.randint(1, self.ids)}"
        if self.choices:
            return self.prefix + rng.choice(self.choices)
        return self.prefix


LUA = """
local prefix, ids, choices, seed = %(prefix)s, %(ids)d, {%(choices)s}, %(seed)d
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
function init(args)
  math.randomseed(seed * 1000 + tid)
end
function request()
  local path = prefix
  if ids > 0 then
    path = prefix .. math.random(1, ids)
  elseif #choices > 0 then
    path = prefix .. choices[math.random(1, #choices)]
  end
  return wrk.format("GET", path)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "bytes": %%d, "p50_us": %%d, "p99_us": %%d, '
    .. '"mean_us": %%f, "max_us": %%d, "connect": %%d, "read": %%d, "write": %%d, '
    .. '"status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(99), latency.mean, latency.max, e.connect, e.read, e.write,
    e.status, e.timeout))
end
"""


def lua_string(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid Lua string literal for ASCII text


def wrk(
    base: str, target: Target, duration: float, seed: int, warm_up: bool = False
) -> dict[str, float]:
    """Requests/s and latency of `target` under 16 connections on 2 wrk threads (a warm-up
    run only opens connections and pages: it may complete nothing, and says nothing)."""
    script = LUA % {
        "prefix": lua_string(target.prefix),
        "ids": target.ids,
        "choices": ", ".join(lua_string(c) for c in target.choices),
        "seed": seed,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as f:
        f.write(script)
        f.flush()
        command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration:g}s", "--latency"]
        command += ["-H", "Accept-Encoding: gzip"]  # as HTTP clients send it by default
        command += ["--timeout", "30s", "-s", f.name, base]
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed on {target.name}:\n{done.stdout}\n{done.stderr}")
    r = json.loads(lines[-1][len("RESULT ") :])
    errors = {k: r[k] for k in ("connect", "read", "write", "status", "timeout") if r[k]}
    if errors:  # loud, but the figures are kept: the caller fails the run at the end
        print(f"\n  ERROR {target.name}: {errors} out of {r['requests']} requests", flush=True)
    if not r["requests"] and not warm_up:  # no figure rather than 0 req/s and 0 ms
        print(
            f"\n    no {target.name} request completed within {duration:g} s under "
            f"{CONNECTIONS} connections: too slow for this --duration",
            flush=True,
        )
        return {"requests": 0.0, "errors": float(sum(errors.values()))}
    return {
        "rps": round(r["requests"] / (r["duration_us"] / 1e6), 1),
        "p50_ms": round(r["p50_us"] / 1000, 2),
        "p99_ms": round(r["p99_us"] / 1000, 2),
        "max_ms": round(r["max_us"] / 1000, 1),
        "requests": float(r["requests"]),
        "kb_per_request": round(r["bytes"] / max(1, r["requests"]) / 1024, 2),
        "errors": float(sum(errors.values())),
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(server: Server, timeout: float = 120) -> None:
    """Waits until the workers are idle: requests that wrk abandoned at the end of a run are
    still computed, and would otherwise slow the next run down."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = {pid: cpu_seconds(pid) for pid in server.workers()}
        time.sleep(0.5)
        if all(cpu_seconds(pid) - used < 0.05 for pid, used in before.items()):
            return


def check(base: str, target: Target, rng: random.Random, rows: Callable[[Any], int]) -> None:
    """A few requests like wrk's must answer 200 with rows, so that wrk times real work."""
    for _ in range(5):
        path = target.sample(rng)
        response = httpx.get(f"{base}{path}", timeout=120)
        if response.status_code != 200 or rows(response.json()) < 1:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")


# ---------------------------------------------------------------- the endpoints


def list_pages(database: Path) -> list[tuple[int, int, int]]:
    """Pages of the filtered list (kind=paper, one year, 50 a page, by id): (year, offset,
    id of the row just before the page), the first MAX_PAGES pages of each year. Our API
    asks for the offset; datasette for the same rows with its keyset `_next=<id>`."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as con:
        rows = con.execute(
            "SELECT year, n, id, total FROM (SELECT cast(strftime('%Y', date) AS integer) AS year,"
            " id, row_number() OVER (PARTITION BY strftime('%Y', date) ORDER BY id) AS n,"
            " count(*) OVER (PARTITION BY strftime('%Y', date)) AS total"
            " FROM sources WHERE kind = 'paper' AND date IS NOT NULL) WHERE n % ? = 0",
            (PAGE,),
        ).fetchall()
        years = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT cast(strftime('%Y', date) AS integer) FROM sources "
                "WHERE kind = 'paper' AND date IS NOT NULL"
            )
        ]
    pages = [(year, 0, 0) for year in years]
    pages += [(y, n, i) for y, n, i, total in rows if n < total and n < PAGE * MAX_PAGES]
    return sorted(pages)


def count(database: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as con:
        return int(con.execute(sql).fetchone()[0])


def atlas_targets(database: Path) -> list[Target]:
    two_words = [f"{a}+{b}" for a in WORDS for b in WORDS if a < b]
    tensions = count(database, "SELECT count(*) FROM tensions WHERE status = 'open'")
    return [
        Target(
            "source_by_id", "/api/v1/sources/", ids=count(database, "SELECT max(id) FROM sources")
        ),
        Target(
            "source_list",
            "/api/v1/sources?kind=paper&limit=50&",
            choices=tuple(
                f"year_from={y}&year_to={y}&offset={o}" for y, o, _ in list_pages(database)
            ),
        ),
        Target(
            "open_tensions",
            "/api/v1/tensions?status=open&limit=50&offset=",
            choices=tuple(str(o) for o in range(0, max(1, min(tensions, PAGE * MAX_PAGES)), PAGE)),
        ),
        Target("search", "/api/v1/search?q=", choices=tuple(WORDS) + tuple(two_words)),
    ]


def datasette_target(database: Path, name: str) -> Target:
    """The source_list query through datasette's JSON API: same filter, same rows, total."""
    return Target(
        "datasette_source_list",
        f"/{name}/sources.json?_shape=objects&_size=50&kind__exact=paper&",
        choices=tuple(
            f"date__gte={y}-01-01&date__lte={y}-12-31" + (f"&_next={after}" if after else "")
            for y, _, after in list_pages(database)
        ),
    )


def same_rows(ours: str, theirs: str, atlas: Target, other: Target) -> None:
    """The list query and datasette's equivalent give the same rows and total (a deep page)."""
    i = len(atlas.choices) // 2 + 1
    a = httpx.get(f"{ours}{atlas.prefix}{atlas.choices[i]}", timeout=60).json()
    b = httpx.get(f"{theirs}{other.prefix}{other.choices[i]}", timeout=60).json()
    ids_a, ids_b = [r["id"] for r in a["items"]], [r["id"] for r in b["rows"]]
    if ids_a != ids_b or a["total"] != b["filtered_table_rows_count"]:
        raise RuntimeError(f"datasette's list differs: {atlas.choices[i]} {other.choices[i]}")


def items_of(body: Any) -> int:
    if isinstance(body, dict):
        for key in ("items", "rows", "results"):
            if key in body:
                return len(body[key])
        return 1 if "id" in body else 0
    return len(body)


@contextmanager
def datasette(database: Path, log: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """datasette serving `database` read-only (immutable), defaults otherwise except that it
    does not suggest facets (our API does not compute them either)."""
    exe = shutil.which("datasette", path=str(Path(sys.executable).parent)) or shutil.which(
        "datasette"
    )
    if exe is None:
        raise RuntimeError('datasette is missing: .venv/bin/pip install -e ".[bench]"')
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp) / "atlas.db"  # datasette names the database after the file
        link.symlink_to(database.resolve())
        command = [exe, "serve", "-i", str(link), "--port", str(port)]
        command += ["--setting", "suggest_facets", "off", "--setting", "default_page_size", "50"]
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=out, cwd=ROOT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{base}/-/versions.json", process, log, 60)
            yield base, "atlas", process
        finally:
            stop(process)


# ---------------------------------------------------------------- the whole part


REGIMES = {
    "cold": "READ_CACHE_MB=0: every request computed",
    "warm": "default server, every URL primed on every worker: answers from the read cache",
}
LAZY = ["/api/v1/graph/stats", "/api/v1/tensions?status=open", "/api/v1/search?q=x"]


def measure(
    server: Server, database: Path, duration: float, seed: int, regime: str
) -> dict[str, float]:
    """One regime's read figures (keys `<regime>_...`) against a running production server:
    `cold` expects one started with READ_CACHE_MB=0, `warm` one with its read cache on, which
    is primed here. Lazy state (the graph) is built on every worker first, in both."""
    rng = random.Random(seed)
    targets = atlas_targets(database)
    out = warm_up(server, LAZY)
    for target in targets:
        check(server.base, target, rng, items_of)
    if regime == "warm":
        out.update(prime(server, targets, seed))
    settle(server)
    ping = wrk(server.base, Target("ping", "/ping"), duration, seed)
    for target in targets:
        wrk(server.base, target, min(2.0, duration), seed + 1, warm_up=True)
        settle(server)
        r = wrk(server.base, target, duration, seed)
        out.update({f"{target.name}_{k}": v for k, v in r.items()})
    settle(server)
    again = wrk(server.base, Target("ping", "/ping"), duration, seed)
    ping_rps = (ping["rps"] + again["rps"]) / 2
    out.update({f"ping_{k}": v for k, v in ping.items() if k != "rps"})
    out["ping_rps"] = round(ping_rps, 1)
    out["ping_rps_spread"] = round(abs(ping["rps"] - again["rps"]) / ping_rps, 3)
    for target in targets:
        if f"{target.name}_rps" in out:
            out[f"{target.name}_ratio"] = float(f"{out[f'{target.name}_rps'] / ping_rps:.3g}")
    return {f"{regime}_{k}": v for k, v in out.items()}


def against_datasette(
    server: Server, database: Path, duration: float, seed: int, log_dir: Path
) -> dict[str, float]:
    """datasette (which has no cache like ours) on the same file, the list query only."""
    rng = random.Random(seed)
    out = {}
    with datasette(database, log_dir / "datasette.log") as (base, name, process):
        target = datasette_target(database, name)
        check(base, target, rng, items_of)
        same_rows(server.base, base, atlas_targets(database)[1], target)
        wrk(base, target, min(2.0, duration), seed + 1, warm_up=True)
        r = wrk(base, target, duration, seed)
        out.update({f"{target.name}_{k}": v for k, v in r.items()})
        out["datasette_rss_mb"] = round(rss_mb(process.pid), 1)
    return out


def versus_datasette(figures: dict[str, Any]) -> dict[str, float]:
    """Our list query's rate over datasette's, in each regime measured."""
    theirs = figures.get("datasette_source_list_rps")
    return {
        f"{regime}_source_list_vs_datasette": round(figures[key] / theirs, 3)
        for regime in REGIMES
        if theirs and (key := f"{regime}_source_list_rps") in figures
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, default=Path("var/bench/set-1.db"))
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    require_set(args.database)
    log_dir = ROOT / "var" / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    database = args.database.resolve()
    with production_server(database, log_dir / "server-cold.log", READ_CACHE_MB="0") as server:
        result = measure(server, database, args.duration, args.seed, "cold")
    with production_server(database, log_dir / "server.log") as server:
        result.update(measure(server, database, args.duration, args.seed, "warm"))
        result.update(server.memory())
        result.update(against_datasette(server, database, args.duration, args.seed, log_dir))
    result.update(versus_datasette(result))
    width = max(map(len, result))
    for name, value in result.items():
        print(f"{name:<{width}}  {value}")
    if failed(result):
        sys.exit(f"errors: {failed(result)}")


def failed(result: dict[str, float]) -> dict[str, float]:
    """Endpoints that answered anything but 2xx/3xx, or whose connections failed; and in the
    warm regime, primed URLs that were not answered from the cache."""
    out = {k: v for k, v in result.items() if k.endswith("_errors") and v}
    if result.get("warm_hit_check_hits", 0) < result.get("warm_hit_check_requests", 0):
        out["warm_hit_check_misses"] = (
            result["warm_hit_check_requests"] - result["warm_hit_check_hits"]
        )
    return out


if __name__ == "__main__":
    main()
