#!/usr/bin/env python3
"""Checks that scripts/run-local tells one story about how long builds take: the
wording for later (incremental) builds is defined once and said in both branches, and
no other claim about their duration contradicts it.
"""

import re

from deploylib import Checks, read

checks = Checks("run-local")
script = read("scripts/run-local")

defined = re.findall(r'^\s*incremental="([^"]+)"', script, re.MULTILINE)
checks.check("incremental wording defined once", len(defined) == 1, f"found {len(defined)} definitions")
said = [line.strip() for line in script.splitlines() if "$incremental" in line]
checks.check(
    "both branches say it (first build and incremental build)",
    len(said) == 2,
    f"lines using $incremental: {said}",
)
# Claims about build time outside the one wording, which drift apart when edited.
claims = [
    line.strip()
    for line in script.splitlines()
    if re.search(r"(under a minute|take seconds|few minutes|usually)", line) and "incremental=" not in line
]
checks.check("no second claim about build time", not claims, f"contradicting lines: {claims}")
checks.exit()
