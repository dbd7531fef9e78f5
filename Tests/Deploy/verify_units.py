#!/usr/bin/env python3
"""Checks the systemd units with `systemd-analyze verify`, and the hardening the issue
asks for.

`systemd-analyze verify` refuses a unit whose ExecStart binary does not exist, and the
binaries are not installed on a CI machine. So each unit is verified inside a scratch
root (`--root=DIR`): the distribution's unit directory copied in (for sysinit.target and
friends), the unit at DIR/etc/systemd/system/, and a stub executable at every path its
Exec*= lines name (the release binary itself when $OOMWATCH_BIN_DIR has it). Any output
from verify (unknown keys and sections included, which it only warns about) fails.

Usage: verify_units.py [UNIT…]   (default: the agent and collector units)
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

from deploylib import ROOT, Checks

UNITS = {
    "agent-config/oomwatch-agent.service": ["OOMScoreAdjust"],
    "server-config/oomwatch-collector.service": [],
}
HARDENING = ["ProtectSystem", "ProtectHome", "NoNewPrivileges", "StateDirectory"]
SYSTEM_UNIT_DIRS = ["/usr/lib/systemd/system", "/lib/systemd/system"]


def directives(text):
    """-> {key: [values]} over every section (continuation lines joined)."""
    out = {}
    text = re.sub(r"\\\n", " ", text)
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;[" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def exec_paths(text):
    """Absolute paths of the programs in Exec*= lines, prefixes (-@+!:) stripped."""
    paths = []
    for key, values in directives(text).items():
        if key.startswith("Exec"):
            for value in values:
                program = value.lstrip("-@+!:").split()[0] if value.strip() else ""
                if program.startswith("/"):
                    paths.append(program)
    return paths


def make_root(unit_name, unit_text, scratch):
    root = os.path.join(scratch, unit_name + ".root")
    for source in SYSTEM_UNIT_DIRS:
        if os.path.isdir(source) and not os.path.islink(source):
            shutil.copytree(source, os.path.join(root, "usr/lib/systemd/system"), symlinks=True)
            break
    dest = os.path.join(root, "etc/systemd/system", unit_name)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "w", encoding="utf-8") as f:
        f.write(unit_text)
    bin_dir = os.environ.get("OOMWATCH_BIN_DIR", "")
    for program in exec_paths(unit_text):
        stub = os.path.join(root, program.lstrip("/"))
        os.makedirs(os.path.dirname(stub), exist_ok=True)
        real = os.path.join(bin_dir, os.path.basename(program))
        if bin_dir and os.access(real, os.X_OK):
            shutil.copy(real, stub)
        else:
            with open(stub, "w", encoding="utf-8") as f:
                f.write("#!/bin/sh\nexit 0\n")
        os.chmod(stub, 0o755)
    return root


# Issue 19: units that must not run as root, and the only capabilities each may hold.
LEAST_PRIVILEGE = {
    "agent-config/oomwatch-agent.service": {"CAP_SYSLOG", "CAP_SYS_RESOURCE"},
}


def least_privilege(checks, path, found, allowed):
    """Its own user (User= other than root, or DynamicUser=yes) and no capability beyond
    `allowed`, in the bounding set and the ambient set alike."""
    user = (found.get("User") or [""])[-1]
    dynamic = (found.get("DynamicUser") or ["no"])[-1].lower() in ("yes", "true", "1", "on")
    checks.check(f"{path}: runs as its own user, not root", dynamic or user not in ("", "root", "0"),
                 f"User={user or '(unset)'} DynamicUser={dynamic}")
    for key in ("CapabilityBoundingSet", "AmbientCapabilities"):
        caps = set(" ".join(found.get(key, [])).split())
        checks.check(f"{path}: {key} only {sorted(allowed)}", key in found and caps <= allowed,
                     f"{key}={sorted(caps)}")


def verify(unit_name, unit_text, scratch):
    """-> (ok, output) of systemd-analyze verify inside a scratch root."""
    root = make_root(unit_name, unit_text, scratch)
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", f"/etc/systemd/system/{unit_name}"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""},
    )
    output = (result.stdout + result.stderr).strip()
    return result.returncode == 0 and not output, output


def main():
    checks = Checks("systemd")
    if shutil.which("systemd-analyze") is None:
        checks.skip("systemd-analyze verify", "systemd-analyze is not installed (apt-get install systemd)")
        checks.exit()
    units = {u: UNITS.get(u, []) for u in sys.argv[1:]} if sys.argv[1:] else UNITS
    with tempfile.TemporaryDirectory(prefix="oomwatch-units-") as scratch:
        # The check must be able to fail: a misspelt key is reported.
        bogus = "[Unit]\nDescription=x\n[Service]\nExecStart=/usr/local/bin/x\nProtectSytem=strict\n"
        ok, output = verify("oomwatch-selftest.service", bogus, scratch)
        checks.check("verify reports a misspelt key", not ok and "ProtectSytem" in output,
                     f"verify said nothing wrong: {output!r}")
        for path, extra in units.items():
            full = os.path.join(ROOT, path)
            if not checks.check(f"{path} exists", os.path.isfile(full), "missing"):
                continue
            with open(full, encoding="utf-8") as f:
                text = f.read()
            ok, output = verify(os.path.basename(path), text, scratch)
            checks.check(f"{path}: systemd-analyze verify is clean", ok, output or "non-zero exit")
            found = directives(text)
            for key in HARDENING + extra:
                checks.check(f"{path}: sets {key}", key in found, "not set")
            if "ProtectSystem" in found:
                checks.check(f"{path}: ProtectSystem is strict or full",
                             found["ProtectSystem"][-1] in ("strict", "full"), found["ProtectSystem"][-1])
            if "NoNewPrivileges" in found:
                checks.check(f"{path}: NoNewPrivileges=yes",
                             found["NoNewPrivileges"][-1].lower() in ("yes", "true", "1", "on"),
                             found["NoNewPrivileges"][-1])
            checks.check(f"{path}: WantedBy= so `systemctl enable` works", "WantedBy" in found, "no [Install] WantedBy=")
            if path in LEAST_PRIVILEGE:
                least_privilege(checks, path, found, LEAST_PRIVILEGE[path])
    checks.exit()


if __name__ == "__main__":
    main()
