#!/usr/bin/env python3
"""Structural lint of deploy/Dockerfile.collector and deploy/Dockerfile.agent, where no
Docker engine can build them.

Parses each Dockerfile into stages and instructions (continuations, comments, ARG
defaults in FROM) and checks: a Swift build stage and a slim Debian runtime stage;
`swift build -c release --static-swift-stdlib --product P` with P an executable product
of Package.swift; the runtime copies exactly that binary from the build stage; apt
hygiene; no ADD of URLs; pinned base images; a HEALTHCHECK; an exec-form ENTRYPOINT on
the copied binary; a non-root USER for the collector; a .dockerignore that keeps .build
out of the context.

Usage: lint_dockerfiles.py [DOCKERFILE…]   (default: both)
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

from deploylib import ROOT, Checks, executable_products

# Which product each Dockerfile ships, and whether it must drop root.
EXPECTED = {
    "deploy/Dockerfile.collector": {"product": "oomwatch-collector", "non_root": True,
                                    "runtime_packages": ["libsqlite3-0", "ca-certificates"]},
    "deploy/Dockerfile.agent": {"product": "oomwatch-agent", "non_root": True,
                                "runtime_packages": ["libcurl4", "ca-certificates"]},
}
BUILD_PACKAGES = ["libcurl4-openssl-dev", "libsqlite3-dev", "zlib1g-dev"]


def parse(text):
    """-> list of (instruction, arguments) with continuations joined and comments dropped."""
    instructions = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comments inside a continued instruction are dropped by Docker too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        word, _, rest = pending.strip().partition(" ")
        instructions.append((word.upper(), rest.strip()))
        pending = ""
    if pending.strip():
        word, _, rest = pending.strip().partition(" ")
        instructions.append((word.upper(), rest.strip()))
    return instructions


def stages(instructions):
    """-> (global ARG defaults, [{"from": image, "name": alias, "body": [(instr, args)]}])"""
    args = {}
    result = []
    for instr, rest in instructions:
        if instr == "ARG" and not result:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip().strip('"')
        elif instr == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), words[0])
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            result.append({"from": image, "name": alias, "body": []})
        elif result:
            result[-1]["body"].append((instr, rest))
    return args, result


def runs(stage):
    return [rest for instr, rest in stage["body"] if instr == "RUN"]


def lint(path, expected, products, checks, text=None):
    full = os.path.join(ROOT, path)
    if text is None:
        if not checks.check(f"{path} exists", os.path.isfile(full), "missing"):
            return
        with open(full, encoding="utf-8") as f:
            text = f.read()
    instructions = parse(text)
    _, all_stages = stages(instructions)
    product = expected["product"]
    checks.check(f"{path}: ships a product of Package.swift", product in products,
                 f"{product} not in {sorted(products)}")
    if not checks.check(f"{path}: multi-stage (build + runtime)", len(all_stages) >= 2,
                        f"{len(all_stages)} FROM stage(s)"):
        return
    build, runtime = all_stages[0], all_stages[-1]

    for stage in all_stages:
        image = stage["from"]
        pinned = ":" in image.split("/")[-1] and not image.endswith(":latest") and "$" not in image
        checks.check(f"{path}: FROM {image} is a pinned tag", pinned, "untagged, :latest or unresolved ARG")
    checks.check(f"{path}: build stage is a Swift image on Debian bookworm",
                 build["from"].startswith("swift:") and "bookworm" in build["from"], build["from"])
    checks.check(f"{path}: build stage is named", bool(build["name"]), "FROM … AS <name> missing")
    checks.check(f"{path}: runtime stage is debian:bookworm-slim", runtime["from"] == "debian:bookworm-slim",
                 runtime["from"])

    build_runs = " ".join(runs(build))
    for package in BUILD_PACKAGES:
        checks.check(f"{path}: build stage installs {package}", re.search(rf"\b{re.escape(package)}\b", build_runs),
                     "not in any apt-get install")
    swift_builds = [r for r in runs(build) if "swift build" in r]
    good = [r for r in swift_builds
            if re.search(r"-c\s+release\b", r) and "--static-swift-stdlib" in r
            and re.search(rf"--product\s+{re.escape(product)}\b", r)]
    checks.check(f"{path}: swift build -c release --static-swift-stdlib --product {product}", bool(good),
                 f"found: {swift_builds or 'no swift build'}")

    copies = [rest for instr, rest in runtime["body"] if instr == "COPY" and "--from=" in rest]
    copied = []
    for rest in copies:
        words = shlex.split(rest)
        source_stage = next(w.split("=", 1)[1] for w in words if w.startswith("--from="))
        files = [w for w in words if not w.startswith("--")]
        copied += [(source_stage, src, files[-1]) for src in files[:-1]]
    checks.check(f"{path}: runtime copies the binary from the build stage",
                 any(stage == build["name"] and os.path.basename(src) == product for stage, src, _ in copied),
                 f"COPY --from lines: {copies}")
    stray = [os.path.basename(src) for _, src, _ in copied
             if os.path.basename(src) not in products and os.path.basename(src) != product]
    checks.check(f"{path}: copies only binaries Package.swift builds", not stray, f"unknown: {stray}")

    runtime_runs = " ".join(runs(runtime))
    for package in expected["runtime_packages"]:
        checks.check(f"{path}: runtime installs {package}", re.search(rf"\b{re.escape(package)}\b", runtime_runs),
                     "not installed")
    checks.check(f"{path}: runtime has no Swift toolchain or -dev packages",
                 not re.search(r"\bswift\b|-dev\b", runtime_runs), runtime_runs[:200])
    for stage in all_stages:
        for r in runs(stage):
            if "apt-get install" in r:
                checks.check(f"{path}: apt-get install in '{stage['name'] or stage['from']}' uses "
                             "--no-install-recommends and -y",
                             "--no-install-recommends" in r and re.search(r"\s-y\b|--yes", r), r[:120])
                checks.check(f"{path}: apt-get update and install in one RUN in '{stage['name']}', lists removed",
                             "apt-get update" in r and "rm -rf /var/lib/apt/lists" in r, r[:120])

    adds = [rest for instr, rest in instructions if instr == "ADD"]
    checks.check(f"{path}: no ADD of URLs", not any(re.search(r"https?://", a) for a in adds), f"ADD {adds}")

    healthchecks = [rest for instr, rest in runtime["body"] if instr == "HEALTHCHECK"]
    checks.check(f"{path}: runtime has a HEALTHCHECK",
                 bool(healthchecks) and not healthchecks[-1].upper().startswith("NONE"), f"{healthchecks}")

    entry = [rest for instr, rest in runtime["body"] if instr == "ENTRYPOINT"]
    try:
        entry_argv = json.loads(entry[-1]) if entry else None
    except json.JSONDecodeError:
        entry_argv = None
    destinations = {dest if not dest.endswith("/") else dest + product for _, _, dest in copied}
    checks.check(f"{path}: exec-form ENTRYPOINT runs the copied {product}",
                 isinstance(entry_argv, list) and entry_argv and entry_argv[0] in destinations,
                 f"ENTRYPOINT {entry}, copied to {sorted(destinations)}")

    users = [rest.split(":")[0].strip() for instr, rest in runtime["body"] if instr == "USER"]
    if expected["non_root"]:
        checks.check(f"{path}: runs as a non-root USER", bool(users) and users[-1] not in ("root", "0"),
                     f"USER {users[-1] if users else '(none: root)'}")

    check_shared_libraries(path, product, runtime_runs, checks)

    ignore = full + ".dockerignore"
    if not os.path.isfile(ignore):
        ignore = os.path.join(ROOT, ".dockerignore")
    ignored = open(ignore, encoding="utf-8").read().split() if os.path.isfile(ignore) else []
    checks.check(f"{path}: a .dockerignore keeps .build and secrets out of the context",
                 ".build" in ignored and any("secrets" in i for i in ignored), f"{ignore}: {ignored}")


# In debian:bookworm-slim without installing anything (Essential, or needed by apt).
SLIM_BASE_PACKAGES = {"libc6", "zlib1g", "libstdc++6", "libgcc-s1"}
# Linked into the binary by --static-swift-stdlib, so not needed at run time.
SWIFT_RUNTIME = re.compile(r"^lib(swift|_?Foundation|dispatch|BlocksRuntime|icu)")


def check_shared_libraries(path, product, runtime_runs, checks):
    """Every shared library the release binary needs, beyond the Swift runtime that
    --static-swift-stdlib links in, must come from a package the runtime stage installs
    or the slim base image has. Catches a new C dependency the image would lack."""
    binary = os.path.join(os.environ.get("OOMWATCH_BIN_DIR", ""), product)
    if not os.environ.get("OOMWATCH_BIN_DIR") or not os.access(binary, os.X_OK):
        checks.skip(f"{path}: runtime has every library {product} needs", "no release binary at $OOMWATCH_BIN_DIR")
        return
    if not shutil.which("objdump") or not shutil.which("dpkg"):
        checks.skip(f"{path}: runtime has every library {product} needs", "needs objdump and dpkg")
        return
    dump = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True, timeout=60).stdout
    needed = [line.split()[1] for line in dump.splitlines() if line.strip().startswith("NEEDED")]
    installed = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", runtime_runs)) | SLIM_BASE_PACKAGES
    missing = []
    for library in needed:
        if SWIFT_RUNTIME.match(library) or library.startswith("linux-vdso"):
            continue
        owner = subprocess.run(["dpkg", "-S", f"*/{library}"], capture_output=True, text=True, timeout=30)
        packages = {line.split(":")[0] for line in owner.stdout.splitlines() if ":" in line}
        if not packages & installed:
            missing.append(f"{library} ({', '.join(sorted(packages)) or 'no package'})")
    checks.check(f"{path}: runtime has every library {product} needs", not missing, f"not installed: {missing}")


class Quiet(Checks):
    """Collects failures without printing: for the lint's own self-test."""

    def __init__(self):
        super().__init__("self-test")
        self.failures = []

    def check(self, name, ok, why=""):
        if not ok:
            self.failures.append(name)
        return ok

    def skip(self, name, why):
        pass


def self_test(products, checks):
    """The lint must catch what it claims to: break a good Dockerfile in known ways."""
    path = "deploy/Dockerfile.collector"
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        good = f.read()
    breakages = {
        "USER root": ("USER oomwatch:oomwatch", "USER root"),
        "no --static-swift-stdlib": ("--static-swift-stdlib ", ""),
        "no HEALTHCHECK": ("HEALTHCHECK", "LABEL healthcheck="),
        "ADD of a URL": ("COPY --from=build", "ADD https://example.com/x /x\nCOPY --from=build"),
        "unknown product": ("--product oomwatch-collector", "--product oomwatch-server"),
        ":latest runtime": ("RUNTIME_IMAGE=debian:bookworm-slim", "RUNTIME_IMAGE=debian:latest"),
    }
    for name, (old, new) in breakages.items():
        if old not in good:
            checks.check(f"lint catches: {name}", False, f"{path} no longer contains {old!r}")
            continue
        quiet = Quiet()
        lint(path, EXPECTED[path], products, quiet, text=good.replace(old, new, 1))
        checks.check(f"lint catches: {name}", bool(quiet.failures), "the broken Dockerfile passed every check")


def main():
    checks = Checks("dockerfiles")
    products = executable_products()
    checks.check("Package.swift declares executable products", bool(products), "none found")
    if not sys.argv[1:]:
        self_test(products, checks)
    paths = sys.argv[1:] or list(EXPECTED)
    for path in paths:
        rel = os.path.relpath(os.path.abspath(path), ROOT) if os.path.isabs(path) else path
        expected = EXPECTED.get(rel)
        if expected is None:
            checks.check(f"{rel} is a known Dockerfile", False, f"expected one of {sorted(EXPECTED)}")
            continue
        lint(rel, expected, products, checks)
    checks.exit()


if __name__ == "__main__":
    main()
