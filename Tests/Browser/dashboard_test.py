#!/usr/bin/env python3
"""Browser test of the collector's web dashboard.

Starts the built `oomwatch-collector` on a free 127.0.0.1 port with a temporary database
and tokens file, seeds it through the real ingest API with known hosts, snapshots and
kills, then drives headless Chromium (Debian's chromium + chromedriver, selenium from
PyPI) and asserts what a user sees. Screenshots go to test-artifacts/.

Environment: OOMWATCH_BIN_DIR (default .build/debug), CHROMEDRIVER (default
/usr/bin/chromedriver), CHROMIUM (default /usr/bin/chromium), KEEP_BROWSER_TEST_DIR=1
to keep the temporary directory.

Prints one line per check and a final `N passed, N failed`; exits non-zero on failure.
Exits 0 with a `SKIP: …` line only when the browser or selenium is not installed.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
AGENT_TOKEN = "agent-secret-7f3a"
READ_TOKEN = "read-secret-c91e"
HOSTILE = '<img src=x onerror="window.__pwned=1">'
# A right-to-left override: unescaped, "java\u202egnp.exe" reads as "javaexe.png" and turns
# the sentence around it backwards (issue 19). The dashboard shows the override escaped.
BIDI = "java\u202egnp.exe"
BIDI_SHOWN = "java\\u{202E}gnp.exe"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def rfc3339(d):
    return d.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_id(*parts):
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


# ----------------------------------------------------------------------------- seed data

GIB = 1024 * 1024  # in kB

# host -> (total_kb, available fraction now, PSI full avg60 now, agent interval seconds)
HOSTS = {
    "web-1": (16 * GIB, 0.62, 0.0, 30),
    "db-1": (64 * GIB, 0.04, 14.5, 30),
    "batch-7": (8 * GIB, 0.35, 0.4, 1),  # reports every second: stale three seconds later
}


def snapshots_for(host):
    total, avail_now, full_now, _ = HOSTS[host]
    out = []
    n = 36
    for i in range(n):
        t = NOW - timedelta(minutes=5 * (n - 1 - i))
        frac = avail_now + (0.5 - avail_now) * (1 - i / (n - 1)) * 0.8  # memory draining over 3 h
        avail = int(total * frac)
        full = full_now * (i / (n - 1))
        out.append({
            "host": host,
            "boot_id": f"boot-{host}",
            "time": rfc3339(t),
            "uptime_s": 86400.0 + i * 300,
            "kernel": "6.1.0-28-amd64",
            "memory": {
                "total_kb": total, "free_kb": avail // 3, "available_kb": avail,
                "cached_kb": avail // 2, "buffers_kb": 20480, "shmem_kb": 65536,
                "anon_pages_kb": total - avail - 200000, "swap_total_kb": 2 * GIB,
                "swap_free_kb": 2 * GIB - i * 10000, "slab_kb": 150000,
                "committed_as_kb": total,
            },
            "vmstat": {"oom_kill": i // 10, "pgmajfault": 1000 + i, "pswpin": 0, "pswpout": i},
            "pressure": {
                "some_avg10": round(full * 1.8, 2), "some_avg60": round(full * 1.5, 2),
                "some_avg300": round(full, 2), "some_total_us": 1000 * i,
                "full_avg10": round(full * 1.2, 2), "full_avg60": round(full, 2),
                "full_avg300": round(full * 0.7, 2), "full_total_us": 500 * i,
            },
            "processes": [
                {"pid": 4242, "ppid": 1, "comm": "postgres" if host == "db-1" else "java",
                 "cmdline": "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql"
                 if host == "db-1" else "java -Xmx12g -jar app.jar",
                 "uid": 110, "rss_kb": int((total - avail) * 0.7), "oom_score": 812,
                 "oom_score_adj": 0, "unit": "postgresql.service" if host == "db-1" else "app.service"},
                {"pid": 901, "ppid": 1, "comm": "node_exporter", "uid": 65534, "rss_kb": 24000,
                 "oom_score": 2, "oom_score_adj": 0, "unit": "node-exporter.service"},
            ],
            "cgroups": [
                {"path": "/system.slice/postgresql.service", "usage_kb": int((total - avail) * 0.7),
                 "limit_kb": int(total * 0.75), "oom_kill": i // 12},
                {"path": "/system.slice/node-exporter.service", "usage_kb": 30000},
            ] if host == "db-1" else [],
        })
    return out


KNOWN_KILL_ID = event_id("kernel", "boot-db-1", 99001.5, 4242, "postgres")

KNOWN_RAW = "\n".join([
    "[99001.100000] pg_dump invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0",
    "[99001.100100] Mem-Info:",
    "[99001.100200] Tasks state (memory values in pages):",
    "[99001.100300] [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
    "[99001.100400] [    901] 65534   901   180000     6000    90112        0             0 node_exporter",
    "[99001.100500] [   4242]   110  4242 16000000 15000000 120000000        0             0 postgres",
    "[99001.100600] [   5150]   110  5150  2000000   900000  8000000        0             0 pg_dump",
    "[99001.500000] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/postgresql.service,task=postgres,pid=4242,uid=110",
    "[99001.500100] Out of memory: Killed process 4242 (postgres) total-vm:64000000kB, anon-rss:59990000kB, file-rss:8000kB, shmem-rss:2000kB, UID:110 pgtables:117188kB oom_score_adj:0",
])


def kill(host, minutes_ago, pid, comm, scope="global", rss_kb=1_000_000, unit=None, container=None,
         cgroup=None, candidates=None, raw=None, uptime=None, eid=None, trigger_pid=None, trigger_comm=None):
    t = NOW - timedelta(minutes=minutes_ago)
    uptime = uptime if uptime is not None else 1_000_000.0 - minutes_ago * 60
    ev = {
        "id": eid or event_id("kernel", f"boot-{host}", uptime, pid, comm),
        "host": host,
        "boot_id": f"boot-{host}",
        "source": "kernel",
        "time": rfc3339(t),
        "uptime_s": uptime,
        "scope": scope,
        "victim": {"pid": pid, "comm": comm, "uid": 110, "total_vm_kb": rss_kb * 2,
                   "anon_rss_kb": rss_kb - 10000, "file_rss_kb": 8000, "shmem_rss_kb": 2000,
                   "pgtables_kb": 4000, "oom_score_adj": 0},
        "trigger": {"pid": trigger_pid or pid, "comm": trigger_comm or comm, "gfp_mask": "0x140cca",
                    "order": 0, "oom_score_adj": 0},
        "raw": raw or f"Out of memory: Killed process {pid} ({comm}) anon-rss:{rss_kb - 10000}kB",
    }
    if unit:
        ev["victim"]["unit"] = unit
    if container:
        ev["victim"]["container_id"] = container
    if cgroup:
        ev["victim"]["cgroup"] = cgroup
    if scope == "memcg":
        ev["memcg"] = {"oom": cgroup, "task": cgroup, "usage_kb": rss_kb + 4096, "limit_kb": rss_kb + 4096}
    if candidates:
        ev["candidates"] = candidates
    return ev


EVENTS = {
    "db-1": [
        kill("db-1", 45, 4242, "postgres", rss_kb=60_000_000, unit="postgresql.service",
             cgroup="/system.slice/postgresql.service", raw=KNOWN_RAW, uptime=99001.5, eid=KNOWN_KILL_ID,
             trigger_pid=5150, trigger_comm="pg_dump",
             candidates=[
                 {"pid": 901, "uid": 65534, "tgid": 901, "total_vm_pages": 180000, "rss_pages": 6000,
                  "pgtables_bytes": 90112, "swapents": 0, "oom_score_adj": 0, "name": "node_exporter"},
                 {"pid": 4242, "uid": 110, "tgid": 4242, "total_vm_pages": 16000000, "rss_pages": 15000000,
                  "pgtables_bytes": 120000000, "swapents": 0, "oom_score_adj": 0, "name": "postgres"},
                 {"pid": 5150, "uid": 110, "tgid": 5150, "total_vm_pages": 2000000, "rss_pages": 900000,
                  "pgtables_bytes": 8000000, "swapents": 0, "oom_score_adj": 0, "name": "pg_dump"},
             ]),
        kill("db-1", 130, 4100, "postgres", rss_kb=58_000_000, unit="postgresql.service",
             cgroup="/system.slice/postgresql.service"),
        kill("db-1", 170, 3980, "postgres", rss_kb=55_000_000, unit="postgresql.service",
             cgroup="/system.slice/postgresql.service"),
    ],
    "web-1": [
        kill("web-1", 20, 7311, "java", scope="memcg", rss_kb=2_000_000,
             container="3f2a9c1d5e6b7a8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c",
             cgroup="/kubepods.slice/kubepods-burstable.slice/cri-containerd-3f2a9c1d5e6b.scope"),
        kill("web-1", 3 * 24 * 60, 6666, HOSTILE, scope="memcg", rss_kb=300_000, unit="evil.service",
             cgroup="/system.slice/evil.service"),
        kill("web-1", 3 * 24 * 60 + 10, 6667, BIDI, rss_kb=200_000, unit="\u2066bidi\u202e.service"),
    ],
    "batch-7": [
        kill("batch-7", 2 * 24 * 60 + 30, 2200, "spark-worker", rss_kb=6_000_000, unit="spark.service"),
    ],
}
KILLS_24H = 4
KILLS_7D = 7
KILLS_BY_HOST_24H = {"db-1": 3, "web-1": 1, "batch-7": 0}


# ----------------------------------------------------------------------------- collector

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{method} {url} answered {e.code}: {e.read()[:500]!r}") from None


class Collector:
    def __init__(self, binary, workdir):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        tokens = workdir / "tokens"
        tokens.write_text(f"# role secret name\nagent {AGENT_TOKEN} seeder\nread {READ_TOKEN} browser\n")
        # The fleet as planned: every seeded host, plus one that never reports.
        expected = workdir / "expected-hosts"
        expected.write_text("# planned fleet\n" + "".join(h + "\n" for h in HOSTS) + MISSING_HOST + "\n")
        # One alert receiver that is never up (a port nothing listens on): every seeded
        # kill's notification keeps failing, which the alerts panel must show.
        config = workdir / "collector.yaml"
        config.write_text(
            "alerts:\n  group_wait: 0s\n  retry_initial: 1s\n  receivers:\n"
            f"    - {{name: pager, webhook: {{url: \"http://127.0.0.1:{free_port()}/hook\"}}}}\n")
        self.log = open(workdir / "collector.log", "wb")
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--listen", f"127.0.0.1:{self.port}", "--db", str(workdir / "oomwatch.db"),
             "--tokens-file", str(tokens), "--expected-hosts", str(expected), "--config", str(config)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited with {self.proc.returncode}; see {workdir}/collector.log")
            try:
                if http("GET", self.base + "/healthz", timeout=2)[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise RuntimeError("collector did not answer /healthz within 30 s")

    def stop(self):
        if self.log.closed:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


SEEDED_AT = [0.0]
# In the collector's expected-hosts file, never seeded: the hosts table lists it as missing.
MISSING_HOST = "rollout-9"


def seed(base):
    SEEDED_AT[0] = time.time()
    for host, (_, _, _, interval) in HOSTS.items():
        batch = {
            "host": host,
            "boot_id": f"boot-{host}",
            "agent": {"version": "0.1.0-test", "interval_s": interval, "dropped_snapshots": 0},
            "snapshots": snapshots_for(host),
            "events": EVENTS[host],
        }
        status, body = http("POST", base + "/api/v1/ingest", batch, AGENT_TOKEN)
        res = json.loads(body)
        if status != 200 or res.get("events_stored") != len(EVENTS[host]):
            raise RuntimeError(f"ingest for {host} answered {status} {body!r}")


# ----------------------------------------------------------------------------- checks

class Failure(Exception):
    pass


def expect(cond, message):
    if not cond:
        raise Failure(message)


def run(driver, collector):
    base = collector.base
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def wait(cond, timeout=15, message="timed out"):
        try:
            return WebDriverWait(driver, timeout).until(lambda d: cond())
        except Exception as e:
            raise Failure(message) from e

    def tid(name):
        return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{name}"]')

    def tids(name):
        return driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{name}"]')

    def click(element):
        # The top bar is sticky: bring the element to the middle so nothing covers it.
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def shot(name):
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"dashboard-{name}.png"))

    def full_shot(name):
        # Headless Chromium captures the window only: grow it to the page for one picture.
        w = driver.get_window_size()
        h = driver.execute_script(
            "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight")
        driver.set_window_size(w["width"], min(max(h, 600), 8000))
        time.sleep(0.4)
        shot(name)
        driver.set_window_size(w["width"], w["height"])

    results = []

    def check(name):
        def deco(fn):
            try:
                fn()
                results.append((name, None))
                print(f"PASS {name}", flush=True)
            except Exception as e:  # noqa: BLE001 - every failure is a failed check
                results.append((name, e))
                print(f"FAIL {name}: {e}", flush=True)
                if not isinstance(e, Failure):
                    traceback.print_exc()
                try:
                    shot("failure-" + name.replace(" ", "-"))
                    # Leave no dialog open to block the next check's clicks.
                    driver.execute_script("const d = document.getElementById('kill-detail'); if (d && d.open) d.close();")
                except Exception:  # noqa: BLE001
                    pass
            return fn
        return deco

    @check("without a token the page asks for one")
    def _():
        driver.get(base + "/")
        wait(lambda: tid("token-prompt").is_displayed(), message="no token prompt")
        expect(not driver.find_element(By.ID, "main").is_displayed(), "main content shown without a token")
        expect(driver.find_element(By.CSS_SELECTOR, 'label[for="token-input"]').text == "Token", "token input has no label")
        shot("token-prompt")

    @check("a wrong token is rejected with a message")
    def _():
        driver.get(base + "/#token=not-a-token")
        wait(lambda: tid("token-error").is_displayed(), message="no error for a bad token")
        expect("accept" in tid("token-error").text or "token" in tid("token-error").text, tid("token-error").text)
        expect("not-a-token" not in driver.current_url, "bad token left in the address bar")

    @check("the token is taken from the fragment and removed from the address bar")
    def _():
        driver.get("about:blank")
        driver.get(base + "/#token=" + READ_TOKEN)
        wait(lambda: driver.execute_script("return document.body.dataset.loaded") == "true",
             message="dashboard did not load data: " + driver.find_element(By.ID, "status").text)
        expect(READ_TOKEN not in driver.current_url, "token still in URL " + driver.current_url)
        expect("#" not in driver.current_url, "fragment left in URL " + driver.current_url)
        stored = driver.execute_script("return sessionStorage.getItem('oomwatch.token')")
        expect(stored == READ_TOKEN, f"token not kept in sessionStorage: {stored!r}")
        shot("overview")

    @check("overview shows host and kill counts")
    def _():
        wait(lambda: tid("ov-hosts").text == str(len(HOSTS)), message="hosts card: " + tid("ov-hosts").text)
        expect(tid("ov-kills24").text == str(KILLS_24H), "kills 24 h card: " + tid("ov-kills24").text)
        expect(tid("ov-kills7").text == str(KILLS_7D), "kills 7 d card: " + tid("ov-kills7").text)
        expect(tid("ov-risk").text == "1", "at-risk card: " + tid("ov-risk").text)

    @check("a host reporting too rarely shows as stale")
    def _():
        # batch-7 reports every second, so three silent seconds make it stale; one refresh later
        # the page must say so.
        time.sleep(max(0.0, SEEDED_AT[0] + 3.5 - time.time()))
        click(tid("refresh"))
        wait(lambda: tid("ov-stale").text == "1", timeout=20, message="stale card: " + tid("ov-stale").text)
        row = driver.find_element(By.CSS_SELECTOR, 'tr[data-host="batch-7"]')
        expect("stale" in row.text, "batch-7 row: " + row.text)

    @check("hosts table lists every host with its kills and a memory bar")
    def _():
        rows = tids("host-row")
        names = [r.get_attribute("data-host") for r in rows]
        expect(sorted(names) == sorted(HOSTS), f"host rows {names}")
        # Default order puts the host in trouble first.
        expect(names[0] == "db-1", f"first row is {names[0]}, expected db-1 (at risk, killing)")
        for r in rows:
            host = r.get_attribute("data-host")
            kills = r.find_element(By.CSS_SELECTOR, '[data-testid="host-kills"]').text
            expect(kills == str(KILLS_BY_HOST_24H[host]), f"{host} kills {kills}")
            expect(r.find_elements(By.CSS_SELECTOR, '[data-testid="membar"]'), f"{host} has no memory bar")
        db = driver.find_element(By.CSS_SELECTOR, 'tr[data-host="db-1"]')
        expect("at risk" in db.text, "db-1 not marked at risk: " + db.text)
        # 96% used: the bar's used part must fill nearly the whole track (styles applied
        # through CSSOM, which the collector's Content-Security-Policy allows).
        track = db.find_element(By.CSS_SELECTOR, ".membar .track").size["width"]
        used = db.find_element(By.CSS_SELECTOR, ".membar .used").size["width"]
        expect(track > 0 and 0.9 < used / track < 1.0, f"db-1 used bar {used}px of {track}px")

    @check("an expected host that never reported is listed as missing, next to the stale ones")
    def _():
        wait(lambda: tids("missing-host-row"), message="no missing-host row")
        rows = tids("missing-host-row")
        expect([r.get_attribute("data-host") for r in rows] == [MISSING_HOST],
               f"missing rows {[r.get_attribute('data-host') for r in rows]}")
        row = rows[0]
        expect("missing" in row.text and "never" in row.text, "missing row: " + row.text)
        expect(row.find_elements(By.CSS_SELECTOR, '[data-testid="badge-missing"]'), "no missing badge")
        expect(tid("ov-missing").text == "1", "missing card: " + tid("ov-missing").text)
        expect(tid("ov-missing").is_displayed(), "missing card hidden")
        # The seeded hosts are not missing, and the count says how many rows there are.
        expect(MISSING_HOST not in [r.get_attribute("data-host") for r in tids("host-row")], "missing host in host rows")
        count = driver.find_element(By.ID, "hosts-count").text
        expect(count == f"({len(HOSTS) + 1})", "hosts count: " + count)

    @check("hosts table sorts and filters")
    def _():
        click(tid("sort-host"))
        names = [r.get_attribute("data-host") for r in tids("host-row")]
        expect(names == sorted(HOSTS), f"ascending by name: {names}")
        click(tid("sort-host"))
        names = [r.get_attribute("data-host") for r in tids("host-row")]
        expect(names == sorted(HOSTS, reverse=True), f"descending by name: {names}")
        th = driver.find_element(By.CSS_SELECTOR, 'th[data-sort="host"]')
        expect(th.get_attribute("aria-sort") == "descending", "aria-sort not set")
        f = tid("hosts-filter")
        f.send_keys("web")
        names = [r.get_attribute("data-host") for r in tids("host-row")]
        expect(names == ["web-1"], f"filter 'web': {names}")
        f.clear()
        driver.execute_script("arguments[0].dispatchEvent(new Event('input'))", f)
        expect(len(tids("host-row")) == len(HOSTS), "filter not cleared")
        click(tid("sort-state"))

    @check("timeline chart is drawn as SVG bars stacked by host")
    def _():
        svg = tid("timeline-svg")
        bars = svg.find_elements(By.CSS_SELECTOR, "rect.bar")
        expect(len(bars) >= 3, f"{len(bars)} bars")
        keys = {b.get_attribute("data-key") for b in bars}
        expect({"db-1", "web-1", "batch-7"} <= keys, f"bar keys {keys}")
        from selenium.webdriver.support.ui import Select
        legend = tid("timeline-legend").text
        expect("db-1 (3)" in legend, "legend: " + legend)
        # Per hour instead of per day: a 7-day range has up to 169 hourly slots.
        daily_w = float(bars[0].get_attribute("width"))
        Select(tid("tl-bucket")).select_by_value("hour")
        hourly = tid("timeline-svg").find_elements(By.CSS_SELECTOR, "rect.bar")
        expect(len(hourly) >= 5, f"{len(hourly)} hourly bars")  # at least 4 distinct hours, 2 hosts in one
        hourly_w = float(hourly[0].get_attribute("width"))
        expect(hourly_w < daily_w / 10, f"hourly bar {hourly_w}px vs daily {daily_w}px")
        Select(tid("tl-bucket")).select_by_value("auto")
        # Stacked by process instead.
        Select(tid("tl-stack")).select_by_value("comm")
        keys = {b.get_attribute("data-key") for b in tid("timeline-svg").find_elements(By.CSS_SELECTOR, "rect.bar")}
        expect("postgres" in keys and "java" in keys, f"bar keys by process {keys}")
        expect(HOSTILE in keys, "hostile comm not a key (escaped attribute)")
        Select(tid("tl-stack")).select_by_value("host")

    @check("recent kills table shows the known victims")
    def _():
        rows = driver.find_elements(By.CSS_SELECTOR, '#kills-body [data-testid="kill-row"]')
        expect(len(rows) == KILLS_7D, f"{len(rows)} kill rows, expected {KILLS_7D}")
        ids = [r.get_attribute("data-id") for r in rows]
        expect(KNOWN_KILL_ID in ids, "known kill missing")
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-testid="kill-row"][data-id="{KNOWN_KILL_ID}"]')
        text = row.text
        for want in ("db-1", "postgres", "pid 4242", "global", "postgresql.service", "57.2 GiB"):
            expect(want in text, f"{want!r} not in known kill row: {text!r}")
        java = [r for r in rows if "java" in r.text][0]
        expect("memcg" in java.text and "container 3f2a9c1d5e6b" in java.text, "java row: " + java.text)

    @check("kills filter and a click on a chart bar narrow the kills table")
    def _():
        def kill_rows():
            return driver.find_elements(By.CSS_SELECTOR, '#kills-body [data-testid="kill-row"]')
        f = tid("kills-filter")
        f.send_keys("postgres")
        expect(len(kill_rows()) == 3, f"filter 'postgres': {len(kill_rows())} rows")
        f.clear()
        driver.execute_script("arguments[0].dispatchEvent(new Event('input'))", f)
        expect(len(kill_rows()) == KILLS_7D, "filter not cleared")
        bar = driver.find_element(By.CSS_SELECTOR, '[data-testid="timeline-svg"] rect.bar[data-key="batch-7"]')
        driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", bar)
        expect(tid("kills-filter").get_attribute("value") == "batch-7", "bar click did not set the filter")
        rows = kill_rows()
        expect(len(rows) == 1 and "spark-worker" in rows[0].text, f"{len(rows)} rows after the bar click")
        f.clear()
        driver.execute_script("arguments[0].dispatchEvent(new Event('input'))", f)

    @check("advice panel lists findings per host, and a kill links to the findings it feeds")
    def _():
        rows = tids("advice-row")
        expect(rows, "no advice rows")
        leak = [r for r in rows if r.get_attribute("data-kind") == "leak-suspect"
                and r.get_attribute("data-host") == "db-1"]
        expect(leak, "no leak-suspect for db-1: " + str([(r.get_attribute("data-host"), r.get_attribute("data-kind")) for r in rows]))
        expect("postgres" in leak[0].text, "leak row: " + leak[0].text)
        expect("Fix the leak" in leak[0].text, "leak action: " + leak[0].text)
        expect("db-1" in tid("advice-table").text, "host missing from the advice table")
        link = driver.find_element(
            By.CSS_SELECTOR, f'#kills-body tr[data-id="{KNOWN_KILL_ID}"] [data-testid="kill-advice"]')
        expect("leak-suspect" in link.text, "kill advice link: " + link.text)
        click(link)
        wait(lambda: "fed by kill" in driver.find_element(By.ID, "advice-count").text,
             message="advice not narrowed to the kill")
        narrowed = tids("advice-row")
        expect(narrowed and all(r.get_attribute("data-host") == "db-1" for r in narrowed),
               "narrowed rows: " + str([r.get_attribute("data-host") for r in narrowed]))
        shot("advice")
        click(tid("advice-clear"))
        wait(lambda: len(tids("advice-row")) == len(rows), message="Show all findings did not restore the list")
        # A kill that feeds no finding says so.
        hostile = [r for r in driver.find_elements(By.CSS_SELECTOR, '#kills-body [data-testid="kill-row"]')
                   if HOSTILE in r.text][0]
        expect(not hostile.find_elements(By.CSS_SELECTOR, '[data-testid="kill-advice"]'),
               "the lone hostile kill should feed no finding")

    @check("a hostile process name is shown as text, not markup")
    def _():
        victims = [v.text for v in tids("kill-victim")]
        expect(HOSTILE in victims, f"hostile comm not shown literally: {victims}")
        expect(driver.execute_script("return window.__pwned === undefined"), "injected script ran")
        expect(not driver.find_elements(By.CSS_SELECTOR, 'img[src="x"]'), "injected <img> in the DOM")

    @check("a bidi override in a name is shown escaped, never applied")
    def _():
        victims = [v.text for v in tids("kill-victim")]
        expect(BIDI_SHOWN in victims, f"bidi comm not shown escaped: {victims}")
        page = driver.find_element(By.TAG_NAME, "body").get_attribute("textContent") + driver.title
        for c in ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"):
            expect(c not in page, f"U+{ord(c):04X} reached the page")

    @check("clicking a kill shows the whole event with the candidate table and raw report")
    def _():
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-testid="kill-row"][data-id="{KNOWN_KILL_ID}"]')
        click(row.find_element(By.CSS_SELECTOR, '[data-testid="kill-victim"]'))
        wait(lambda: tid("kill-detail").is_displayed(), message="kill dialog not shown")
        title = driver.find_element(By.ID, "kill-title").text
        expect("postgres" in title and "4242" in title and "db-1" in title, "title: " + title)
        facts = tid("kill-facts").text
        for want in ("postgresql.service", "/system.slice/postgresql.service", "0x140cca", "pid 4242"):
            expect(want in facts, f"{want!r} not in facts: {facts!r}")
        cands = tids("candidate-row")
        expect(len(cands) == 3, f"{len(cands)} candidate rows")
        expect("postgres" in cands[0].text and "victim" in (cands[0].get_attribute("class") or ""),
               "victim not first/highlighted: " + cands[0].text)
        expect("57.2 GiB" in cands[0].text, "candidate RSS (pages × 4 KiB): " + cands[0].text)
        expect("pg_dump" in cands[1].text and "trigger" in cands[1].text, "trigger not marked: " + cands[1].text)
        raw = tid("kill-raw").text
        expect("Out of memory: Killed process 4242 (postgres)" in raw, "raw report: " + raw[:200])
        shot("kill-detail")
        click(tid("kill-close"))
        wait(lambda: not tid("kill-detail").is_displayed(), message="dialog did not close")
        # Escape closes it too (a native <dialog>), and "Host view" leads to the host.
        victim = driver.find_element(By.CSS_SELECTOR, f'#kills-body tr[data-id="{KNOWN_KILL_ID}"] [data-testid="kill-victim"]')
        click(victim)
        wait(lambda: tid("kill-detail").is_displayed(), message="kill dialog not shown again")
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys
        ActionChains(driver).send_keys(Keys.ESCAPE).perform()
        wait(lambda: not tid("kill-detail").is_displayed(), message="Escape did not close the dialog")
        click(victim)
        wait(lambda: tid("kill-detail").is_displayed(), message="kill dialog not shown again")
        click(tid("kill-host"))
        wait(lambda: tid("host-detail").is_displayed() and not tid("kill-detail").is_displayed(),
             message="Host view did not open the host")
        expect(driver.find_element(By.ID, "host-detail-title").text == "db-1", "wrong host")
        click(tid("host-detail-close"))

    @check("clicking a host shows its memory and PSI with kills marked")
    def _():
        click(driver.find_element(By.CSS_SELECTOR, 'tr[data-host="db-1"] [data-testid="host-link"]'))
        wait(lambda: tid("host-detail").is_displayed(), message="host detail not shown")
        expect(driver.current_url.endswith("#host=db-1"), "host view not in the fragment: " + driver.current_url)
        wait(lambda: tids("hd-mem-svg") and tids("hd-psi-svg"), message="host charts not drawn")
        mem = tid("hd-mem-svg")
        expect(mem.find_elements(By.CSS_SELECTOR, "path.line-avail"), "no available-memory line")
        d = mem.find_element(By.CSS_SELECTOR, "path.line-avail").get_attribute("d")
        expect(d.count("L") >= 10, f"available line has too few points: {d[:80]}")
        expect(tid("hd-psi-svg").find_elements(By.CSS_SELECTOR, "path.line-full"), "no PSI full line")
        marks_mem = mem.find_elements(By.CSS_SELECTOR, '[data-testid="kill-marker"]')
        marks_psi = tid("hd-psi-svg").find_elements(By.CSS_SELECTOR, '[data-testid="kill-marker"]')
        expect(len(marks_mem) == 3 and len(marks_psi) == 3, f"kill markers {len(marks_mem)}/{len(marks_psi)}, expected 3")
        # Same time axis: a kill's marker sits at the same x on both charts.
        x1 = marks_mem[0].find_element(By.CSS_SELECTOR, "line").get_attribute("x1")
        x2 = marks_psi[0].find_element(By.CSS_SELECTOR, "line").get_attribute("x1")
        expect(x1 == x2, f"markers at x {x1} vs {x2}")
        expect(len(tid("hd-kills").find_elements(By.CSS_SELECTOR, "tbody tr")) == 3, "host kills table")
        procs = tid("hd-procs").text
        expect("postgres" in procs, "largest processes: " + procs)
        cgroups = tids("cgroup-row")
        expect(len(cgroups) == 2 and "/system.slice/postgresql.service" in cgroups[0].text,
               "cgroups table: " + " | ".join(c.text for c in cgroups))
        expect("no limit" in cgroups[1].text, "unlimited cgroup: " + cgroups[1].text)
        driver.execute_script("arguments[0].scrollIntoView()", tid("host-detail"))
        time.sleep(0.5)
        shot("host-detail")
        # A marker opens the kill.
        driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", marks_mem[0])
        wait(lambda: tid("kill-detail").is_displayed(), message="marker did not open the kill")
        click(tid("kill-close"))
        click(tid("host-detail-close"))
        expect(not tid("host-detail").is_displayed(), "host detail did not close")
        expect("#" not in driver.current_url, "fragment left after closing: " + driver.current_url)

    @check("auto-refresh can be paused")
    def _():
        box = tid("auto-refresh")
        expect(box.is_selected(), "auto-refresh is off by default")
        click(box)
        expect("paused" in tid("status").text, "status: " + tid("status").text)
        click(box)

    @check("the page stays readable on a phone")
    def _():
        driver.set_window_size(390, 844)
        time.sleep(0.6)
        width = driver.execute_script("return document.documentElement.scrollWidth")
        expect(width <= 400, f"page scrolls sideways on a phone: {width}px")
        expect(tid("timeline-svg").size["width"] <= 390, "chart wider than the phone")
        full_shot("phone")
        driver.set_window_size(1440, 1000)
        time.sleep(0.4)

    @check("full page screenshot")
    def _():
        full_shot("full")

    @check("dark mode follows prefers-color-scheme")
    def _():
        light = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                               {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        time.sleep(0.3)
        dark = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        expect(light != dark, f"background {light} in both schemes")
        full_shot("dark")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

    @check("no token in any URL sent to the server; API calls carry it as a Bearer header")
    def _():
        sent = []
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                req = msg["params"]["request"]
                sent.append((req["url"], req.get("headers", {})))
        expect(sent, "no requests recorded")
        leaked = [u for u, _ in sent if READ_TOKEN in u or "token=" in u]
        expect(not leaked, f"token in request URLs: {leaked[:3]}")
        api = [(u, h) for u, h in sent if "/api/v1/" in u]
        expect(api, "no API requests recorded")
        bearer = [u for u, h in api if h.get("Authorization") == "Bearer " + READ_TOKEN]
        expect(bearer, "no API request with the Bearer header")

    @check("the alerts panel shows notifications and the failing receiver with its error")
    def _():
        driver.get(base + "/")
        wait(lambda: tid("alerts-panel").is_displayed(), message="no alerts panel")
        wait(lambda: len(tids("alert-receiver")) == 1, message="no receiver row")
        row = tids("alert-receiver")[0]
        wait(lambda: "pager" in row.text and "onnect" in row.text, message="receiver row: " + row.text)
        expect("bad" in (row.get_attribute("class") or ""), "failing receiver not marked")
        expect(len(tids("alert-row")) > 0, "no notification rows")
        expect("failing" in tids("alert-row")[0].text or "pending" in tids("alert-row")[0].text,
               "row: " + tids("alert-row")[0].text)
        expect(not tid("alerts-empty").is_displayed(), "empty message shown with notifications")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", tid("alerts-panel"))
        shot("alerts-panel")

    @check("no errors in the browser console")
    def _():
        # The bad-token check's 401 is expected; anything else (a script error, a failed
        # asset or API request, a Content-Security-Policy refusal) is not.
        logs = [entry for entry in driver.get_log("browser")
                if entry.get("level") == "SEVERE" and "401" not in entry.get("message", "")]
        expect(not logs, str(logs[:3]))

    @check("when the collector goes away the page says so and keeps its data")
    def _():
        collector.stop()
        click(tid("refresh"))
        wait(lambda: tid("error").is_displayed(), message="no error banner")
        expect("Could not refresh" in tid("error").text, "banner: " + tid("error").text)
        expect(tid("ov-hosts").text == str(len(HOSTS)), "data cleared on error")
        rows = driver.find_elements(By.CSS_SELECTOR, '#kills-body [data-testid="kill-row"]')
        expect(len(rows) == KILLS_7D, f"{len(rows)} kill rows left after the error")
        shot("collector-down")

    return results


# ----------------------------------------------------------------------------- main

def main():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        print("SKIP: selenium is not installed (scripts/test-browser installs it)")
        return 0
    chromedriver = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not (os.access(chromedriver, os.X_OK) and os.access(chromium, os.X_OK)):
        print(f"SKIP: {chromium} or {chromedriver} is not installed (apt-get install chromium chromium-driver)")
        return 0

    bin_dir = Path(os.environ.get("OOMWATCH_BIN_DIR", REPO / ".build" / "debug"))
    binary = (bin_dir / "oomwatch-collector").resolve()
    if not binary.exists():
        print(f"FAIL: {binary} not found; build it first (swift build --product oomwatch-collector)")
        print("0 passed, 1 failed")
        return 1

    os.environ["SE_OFFLINE"] = "true"  # never let selenium-manager download or phone home
    workdir = Path(tempfile.mkdtemp(prefix="oomwatch-browser-"))
    collector = None
    driver = None
    try:
        collector = Collector(binary, workdir)
        seed(collector.base)
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000",
                    "--disable-gpu", "--no-first-run", "--disable-extensions", "--force-prefers-reduced-motion"):
            options.add_argument(arg)
        # The performance log lists every request the page made, to check URLs and headers.
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
        driver.set_page_load_timeout(30)
        results = run(driver, collector)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        results = [("setup", e)]
        print(f"FAIL setup: {e}")
        log = workdir / "collector.log"
        if log.exists():
            print("--- collector.log (tail)")
            print(log.read_text(errors="replace")[-3000:])
    finally:
        if driver is not None:
            driver.quit()
        if collector is not None:
            collector.stop()
        if os.environ.get("KEEP_BROWSER_TEST_DIR"):
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    passed = sum(1 for _, e in results if e is None)
    failed = len(results) - passed
    print(f"screenshots in {ARTIFACTS}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
