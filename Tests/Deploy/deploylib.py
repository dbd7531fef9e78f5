"""Shared bits of the deployment checks: the repository root, result lines, and the
executable products declared in Package.swift.

Every check prints one line, `PASS name` or `FAIL name: why` (or `SKIP name: why`);
scripts/test-deploy counts them. A script exits 1 when any of its checks failed.
"""

import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))


class Checks:
    def __init__(self, prefix):
        self.prefix = prefix
        self.failed = 0
        self.passed = 0

    def check(self, name, ok, why=""):
        """Records one check; `why` says what was wrong (shown only on failure)."""
        label = f"{self.prefix}: {name}"
        if ok:
            self.passed += 1
            print(f"PASS {label}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {label}: {why}", flush=True)
        return ok

    def skip(self, name, why):
        print(f"SKIP {self.prefix}: {name}: {why}", flush=True)

    def exit(self):
        sys.exit(1 if self.failed else 0)


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def executable_products():
    """Names of the `.executable(name: …)` products in Package.swift."""
    return set(re.findall(r'\.executable\(\s*name:\s*"([^"]+)"', read("Package.swift")))
