#!/usr/bin/env python3
"""Runs scripts/install-agent for real, into scratch roots (`--root DIR`), and checks
what it installs, that it rejects bad input before touching anything, that --dry-run
changes nothing, that a second run changes nothing, and that the unit it installs
passes `systemd-analyze verify` with the binary where the unit says.
"""

import json
import os
import shutil
import stat
import subprocess
import tempfile

import yaml

from deploylib import ROOT, Checks
from verify_units import SYSTEM_UNIT_DIRS, exec_paths

SCRIPT = os.path.join(ROOT, "scripts", "install-agent")
FAKE_PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

checks = Checks("install-agent")


def run(*args):
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=60)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


with tempfile.TemporaryDirectory(prefix="oomwatch-install-") as scratch:
    binary = os.path.join(scratch, "oomwatch-agent")
    real = os.path.join(os.environ.get("OOMWATCH_BIN_DIR", ""), "oomwatch-agent")
    has_real_binary = bool(os.environ.get("OOMWATCH_BIN_DIR")) and os.access(real, os.X_OK)
    if has_real_binary:
        shutil.copy(real, binary)
    else:
        with open(binary, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
    os.chmod(binary, 0o755)
    token = os.path.join(scratch, "agent.token")
    with open(token, "w") as f:
        f.write("s3cr3t-agent-token\n")
    empty = os.path.join(scratch, "empty.token")
    open(empty, "w").close()
    ca = os.path.join(scratch, "ca.pem")
    with open(ca, "w") as f:
        f.write(FAKE_PEM)
    root = os.path.join(scratch, "root")
    os.makedirs(root)
    base = ["--binary", binary, "--token-file", token, "--root", root]

    r = run("--help")
    checks.check("--help documents the options", r.returncode == 0 and "--collector" in r.stdout, r.stderr)

    for name, args in {
        "no --collector": base,
        "collector not a URL": [*base, "--collector", "oomwatch.example:8080"],
        "empty token file": ["--binary", binary, "--token-file", empty, "--root", root, "--collector", "http://c:1"],
        "missing binary": ["--binary", binary + ".nope", "--token-file", token, "--root", root,
                           "--collector", "http://c:1"],
        "CA file without a certificate": [*base, "--collector", "http://c:1", "--ca-file", token],
        "unknown option": [*base, "--collector", "http://c:1", "--colector", "x"],
        "a quote in the URL": [*base, "--collector", 'http://c:1/"x'],
        "a space in the host name": [*base, "--collector", "http://c:1", "--hostname", "web 1"],
    }.items():
        r = run(*args)
        checks.check(f"rejects {name} before writing anything", r.returncode == 2 and not files_under(root),
                     f"exit {r.returncode}, wrote {files_under(root)}, said {r.stderr.strip()!r}")

    unit_template = os.path.join(ROOT, "agent-config", "oomwatch-agent.service")
    if not checks.check("agent-config/oomwatch-agent.service exists", os.path.isfile(unit_template), "missing"):
        checks.exit()

    url = "https://oomwatch.example:8443"
    r = run(*base, "--collector", url, "--ca-file", ca, "--dry-run")
    checks.check("--dry-run says what it would do and writes nothing",
                 r.returncode == 0 and "would install" in r.stdout and not files_under(root),
                 f"exit {r.returncode}: {r.stdout}{r.stderr}")

    r = run(*base, "--collector", url, "--ca-file", ca, "--hostname", "web-1.example")
    checks.check("installs under --root", r.returncode == 0, f"exit {r.returncode}: {r.stdout}{r.stderr}")
    expected = {
        "usr/local/bin/oomwatch-agent": 0o755,
        "etc/oomwatch/agent.yaml": 0o644,
        "etc/oomwatch/agent.token": 0o600,
        "etc/oomwatch/ca.pem": 0o644,
        "etc/systemd/system/oomwatch-agent.service": 0o644,
    }
    for rel, want in expected.items():
        path = os.path.join(root, rel)
        checks.check(f"installs /{rel} mode {want:04o}", os.path.isfile(path) and mode(path) == want,
                     f"{'missing' if not os.path.isfile(path) else oct(mode(path))}")
    with open(os.path.join(root, "etc/oomwatch/agent.token")) as f:
        checks.check("token file holds exactly the token", f.read() == "s3cr3t-agent-token\n", "content differs")
    with open(os.path.join(root, "etc/oomwatch/agent.yaml")) as f:
        config = yaml.safe_load(f)
    checks.check("config names the collector, token file and CA",
                 config.get("collector") == url and config.get("token_file") == "/etc/oomwatch/agent.token"
                 and (config.get("upload") or {}).get("ca_file") == "/etc/oomwatch/ca.pem", f"{config}")
    checks.check("config does not contain the token", "s3cr3t" not in open(os.path.join(root, "etc/oomwatch/agent.yaml")).read(),
                 "token leaked into agent.yaml")
    with open(os.path.join(root, "etc/systemd/system/oomwatch-agent.service")) as f:
        unit = f.read()
    programs = exec_paths(unit)
    checks.check("unit runs /usr/local/bin/oomwatch-agent",
                 "/usr/local/bin/oomwatch-agent" in programs, f"Exec programs: {programs}")

    if has_real_binary:
        # The agent itself must accept the config: `snapshot` resolves and validates it.
        s = subprocess.run([os.path.join(root, "usr/local/bin/oomwatch-agent"), "snapshot", "--config",
                            os.path.join(root, "etc/oomwatch/agent.yaml")], capture_output=True, text=True, timeout=60)
        try:
            reported = json.loads(s.stdout).get("host")
        except ValueError:
            reported = None
        checks.check("oomwatch-agent accepts the installed config", s.returncode == 0 and reported == "web-1.example",
                     f"exit {s.returncode}, host {reported!r}: {s.stderr.strip()[:300]}")
    else:
        checks.skip("oomwatch-agent accepts the installed config", "no release binary at $OOMWATCH_BIN_DIR")

    before = {p: os.stat(os.path.join(root, p)).st_mtime_ns for p in files_under(root)}
    r = run(*base, "--collector", url, "--ca-file", ca, "--hostname", "web-1.example")
    after = {p: os.stat(os.path.join(root, p)).st_mtime_ns for p in files_under(root)}
    checks.check("a second identical run changes nothing",
                 r.returncode == 0 and before == after
                 and not any(line.startswith("installed ") for line in r.stdout.splitlines()),
                 f"exit {r.returncode}: {r.stdout}")

    r = run(*base, "--collector", "https://other.example:8443", "--ca-file", ca, "--hostname", "web-1.example")
    changed = [line for line in r.stdout.splitlines() if line.startswith("installed ")]
    checks.check("a new collector URL rewrites only the config",
                 r.returncode == 0 and len(changed) == 1 and "agent.yaml" in changed[0], f"{r.stdout}")

    if has_real_binary:
        # The preflight runs after installing and its failure is the script's: nothing
        # listens on port 1, so "collector reachable" fails and the exit status is 3.
        r = run(*base, "--collector", "http://127.0.0.1:1", "--check")
        checks.check("the preflight runs after installing and a failed check exits 3",
                     r.returncode == 3 and "FAIL  collector reachable" in r.stdout
                     and "OK    token file" in r.stdout and "preflight failed" in r.stderr,
                     f"exit {r.returncode}: {r.stdout}{r.stderr}")
    else:
        checks.skip("install-agent runs the preflight", "no release binary at $OOMWATCH_BIN_DIR")

    if shutil.which("systemd-analyze"):
        for source in SYSTEM_UNIT_DIRS:
            if os.path.isdir(source) and not os.path.islink(source):
                shutil.copytree(source, os.path.join(root, "usr/lib/systemd/system"), symlinks=True)
                break
        v = subprocess.run(
            ["systemd-analyze", "verify", f"--root={root}", "/etc/systemd/system/oomwatch-agent.service"],
            capture_output=True, text=True, timeout=60)
        output = (v.stdout + v.stderr).strip()
        checks.check("the installed unit passes systemd-analyze verify with the installed binary",
                     v.returncode == 0 and not output, output or f"exit {v.returncode}")
    else:
        checks.skip("installed unit verify", "systemd-analyze is not installed")

checks.exit()
