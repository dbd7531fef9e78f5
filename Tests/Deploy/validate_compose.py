#!/usr/bin/env python3
"""Validates docker-compose.yml where no Docker engine runs.

1. Against the Compose Specification JSON schema (compose-spec.json, copied here from
   the compose-spec project, Apache-2.0, see compose-spec.LICENSE).
2. That the validator is not vacuous: known-bad variants of the same file are rejected.
3. What oomwatch itself needs from the file: the collector's data volume, tokens secret,
   port, healthcheck and restart policy; the agent's pid namespace, read-only host /proc
   passed as the proc root, /dev/kmsg, state volume, token secret, start-up order, and
   least privilege: a non-root user, only CAP_SYSLOG and CAP_SYS_RESOURCE, the same set
   as its binary's file capabilities in deploy/Dockerfile.agent, no no-new-privileges
   (which would cancel them).
4. The `postgres` profile: a PostgreSQL server with its data on a named volume and a
   readiness check, two collectors on it that take the password from a secret (never
   from the URL) and are not published, and a load balancer whose config
   (deploy/haproxy.cfg, checked with `haproxy -c` where haproxy is installed) sends to
   every one of them and checks them on /readyz.
5. That every OOMWATCH_* variable the file sets is a key the agent documents in
   agent-config/agent.yaml, and every flag it passes is one the binaries accept (when
   release binaries are at $OOMWATCH_BIN_DIR).

Usage: validate_compose.py [COMPOSE_FILE]
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys

import jsonschema
import yaml

from deploylib import HERE, ROOT, Checks

checks = Checks("compose")
compose_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docker-compose.yml")

with open(os.path.join(HERE, "compose-spec.json"), encoding="utf-8") as f:
    schema = json.load(f)
# The file declares draft-07 as "https://json-schema.org/draft-07/schema" (no trailing
# "#"), which jsonschema does not recognise by URL; name the draft explicitly.
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)


def schema_errors(document):
    return sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))


def describe(errors):
    return "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:5])


try:
    with open(compose_path, encoding="utf-8") as f:
        compose = yaml.safe_load(f)
except (OSError, yaml.YAMLError) as error:
    checks.check("parses as YAML", False, str(error))
    checks.exit()
checks.check("parses as YAML", isinstance(compose, dict), "top level is not a mapping")

errors = schema_errors(compose)
checks.check("valid against the Compose Specification schema", not errors, describe(errors))

# --- the schema check must be able to fail --------------------------------------------
bad_variants = {
    "profiles not a list": lambda d: d["services"]["postgres"].update({"profiles": "postgres"}),
    "unknown service key": lambda d: d["services"]["agent"].update({"pidd": "host"}),
    "pid not a string": lambda d: d["services"]["agent"].update({"pid": ["host"]}),
    "depends_on condition misspelt": lambda d: d["services"]["agent"]["depends_on"]["collector"].update(
        {"condition": "healthy"}
    ),
    "healthcheck interval not a string": lambda d: d["services"]["collector"]["healthcheck"].update(
        {"interval": 15}
    ),
    "unknown top-level key": lambda d: d.update({"servics": {}}),
}
for name, mutate in bad_variants.items():
    variant = copy.deepcopy(compose)
    try:
        mutate(variant)
    except (KeyError, TypeError) as error:
        checks.check(f"schema rejects: {name}", False, f"could not build the variant: {error!r}")
        continue
    checks.check(f"schema rejects: {name}", bool(schema_errors(variant)), "the schema accepted a broken file")

# --- what oomwatch needs ------------------------------------------------------------------
services = compose.get("services", {})
collector = services.get("collector", {})
agent = services.get("agent", {})
checks.check("has a collector service", bool(collector), "no services.collector")
checks.check("has an agent service", bool(agent), "no services.agent")


def volume_targets(service):
    """Mount targets of a service's volumes -> (source, read_only)."""
    out = {}
    for v in service.get("volumes", []):
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) >= 2:
                out[parts[1]] = (parts[0], len(parts) > 2 and "ro" in parts[2].split(","))
            else:
                out[parts[0]] = (None, False)
        else:
            out[v.get("target")] = (v.get("source"), bool(v.get("read_only")))
    return out


def named_volumes():
    return set((compose.get("volumes") or {}).keys())


def secret_names(service):
    return {s if isinstance(s, str) else s.get("source") for s in service.get("secrets", [])}


def command_flags(service):
    cmd = service.get("command", [])
    if isinstance(cmd, str):
        cmd = cmd.split()
    flags = {}
    for i, word in enumerate(cmd):
        if word.startswith("--"):
            name, _, value = word.partition("=")
            flags[name] = value or (cmd[i + 1] if i + 1 < len(cmd) else "")
    return flags


def environment(service):
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


for name, service in (("collector", collector), ("agent", agent)):
    build = service.get("build", {})
    dockerfile = build.get("dockerfile") if isinstance(build, dict) else None
    context = build.get("context", ".") if isinstance(build, dict) else build
    path = os.path.join(ROOT, context or ".", dockerfile or "Dockerfile")
    checks.check(f"{name} builds from an existing Dockerfile", os.path.isfile(path), f"{path} does not exist")
    checks.check(f"{name} restarts by itself", service.get("restart") in ("always", "unless-stopped"),
                 f"restart is {service.get('restart')!r}")
    for secret in secret_names(service):
        checks.check(f"{name} secret {secret} is declared", secret in (compose.get("secrets") or {}),
                     "not in top-level secrets")

# collector
vols = volume_targets(collector)
data = vols.get("/var/lib/oomwatch")
checks.check("collector keeps its database on a named volume",
             data is not None and data[0] in named_volumes() and not data[1], f"volumes: {vols}")
checks.check("collector gets its tokens from a secret", bool(secret_names(collector)), "no secrets")
flags = command_flags(collector)
checks.check("collector reads the tokens secret",
             flags.get("--tokens-file", "").startswith("/run/secrets/")
             or environment(collector).get("OOMWATCH_TOKENS_FILE", "").startswith("/run/secrets/"),
             f"--tokens-file is {flags.get('--tokens-file')!r}")
checks.check("collector listens on port 8080 and publishes it",
             flags.get("--listen", "").endswith(":8080")
             and any(str(p).endswith("8080") or (isinstance(p, dict) and p.get("target") == 8080)
                     for p in collector.get("ports", [])),
             f"listen {flags.get('--listen')!r}, ports {collector.get('ports')}")
hc = collector.get("healthcheck", {})
checks.check("collector has a healthcheck on /healthz",
             "/healthz" in " ".join(hc.get("test", [])) if isinstance(hc.get("test"), list)
             else "/healthz" in str(hc.get("test")), f"healthcheck: {hc}")
checks.check("collector does not run privileged", not collector.get("privileged"), "privileged: true")

# agent
checks.check("agent shares the host pid namespace", agent.get("pid") == "host", f"pid: {agent.get('pid')!r}")
vols = volume_targets(agent)
proc = vols.get("/host/proc")
checks.check("agent mounts the host's /proc read-only at /host/proc",
             proc is not None and proc[0] == "/proc" and proc[1], f"volumes: {vols}")
env = environment(agent)
flags = command_flags(agent)
checks.check("agent is told /host/proc is the proc root",
             env.get("OOMWATCH_PATHS_PROC") == "/host/proc" or flags.get("--proc-root") == "/host/proc",
             f"OOMWATCH_PATHS_PROC={env.get('OOMWATCH_PATHS_PROC')!r}, --proc-root={flags.get('--proc-root')!r}")
devices = [d if isinstance(d, str) else f"{d.get('source')}:{d.get('target')}" for d in agent.get("devices", [])]
checks.check("agent gets /dev/kmsg as a device", any(d.split(":")[0] == "/dev/kmsg" for d in devices),
             f"devices: {devices}")
caps = {c.upper().removeprefix("CAP_") for c in agent.get("cap_add", [])}
checks.check("agent has CAP_SYSLOG", "SYSLOG" in caps, f"cap_add: {sorted(caps)}")
# Least privilege (issue 19.7): its own user, only the two capabilities it uses, and
# exactly the ones its binary carries as file capabilities (Docker gives a non-root user
# no ambient capabilities; a file capability outside the bounding set fails the exec).
user = str(agent.get("user", "")).split(":")[0]
checks.check("agent runs as a non-root user", user not in ("", "0", "root"), f"user: {agent.get('user')!r}")
checks.check("agent drops every capability but CAP_SYSLOG and CAP_SYS_RESOURCE",
             caps == {"SYSLOG", "SYS_RESOURCE"}
             and {c.upper().removeprefix("CAP_") for c in agent.get("cap_drop", [])} == {"ALL"},
             f"cap_drop: {agent.get('cap_drop')}, cap_add: {sorted(caps)}")
agent_build = agent.get("build", {})
agent_dockerfile = os.path.join(ROOT, agent_build.get("context", ".") if isinstance(agent_build, dict) else ".",
                                agent_build.get("dockerfile", "Dockerfile") if isinstance(agent_build, dict)
                                else "Dockerfile")
dockerfile_text = open(agent_dockerfile, encoding="utf-8").read() if os.path.isfile(agent_dockerfile) else ""
setcap = re.search(r"setcap\s+(\S+)\+ep\s+/usr/local/bin/oomwatch-agent", dockerfile_text)
file_caps = {c.upper().removeprefix("CAP_") for c in setcap.group(1).split(",")} if setcap else set()
checks.check("agent binary's file capabilities are the ones compose adds", file_caps == caps,
             f"setcap in {os.path.relpath(agent_dockerfile, ROOT)}: {sorted(file_caps)}, cap_add: {sorted(caps)}")
checks.check("agent's file capabilities are not cancelled by no-new-privileges",
             not any("no-new-privileges" in str(o) and not str(o).endswith(":false")
                     for o in agent.get("security_opt", [])),
             f"security_opt: {agent.get('security_opt')}")
checks.check("agent is not privileged", not agent.get("privileged"), "privileged: true")
state = vols.get(env.get("OOMWATCH_STATE_DIR") or flags.get("--state-dir") or "/var/lib/oomwatch-agent")
checks.check("agent keeps its state on a named volume",
             state is not None and state[0] in named_volumes() and not state[1], f"volumes: {vols}")
checks.check("agent gets its token from a secret",
             bool(secret_names(agent))
             and (flags.get("--token-file", "") or env.get("OOMWATCH_TOKEN_FILE", "")).startswith("/run/secrets/"),
             f"--token-file {flags.get('--token-file')!r}")
dep = agent.get("depends_on", {})
checks.check("agent starts after the collector is healthy",
             isinstance(dep, dict) and dep.get("collector", {}).get("condition") == "service_healthy",
             f"depends_on: {dep}")


# --- profile postgres: collectors on PostgreSQL behind a balancer ---------------------------
def in_profile(service):
    return "postgres" in (service.get("profiles") or [])


postgres = services.get("postgres", {})
pg_collectors = {n: s for n, s in services.items()
                 if in_profile(s) and command_flags(s).get("--db", "").startswith("postgres://")}
balancer = services.get("lb", {})
checks.check("postgres profile: a PostgreSQL 15 server", in_profile(postgres)
             and str(postgres.get("image", "")).startswith("postgres:15"), f"postgres: {postgres.get('image')!r}")
pg_vols = volume_targets(postgres)
pg_data = pg_vols.get("/var/lib/postgresql/data")
checks.check("postgres profile: the server keeps its data on a named volume",
             pg_data is not None and pg_data[0] in named_volumes(), f"volumes: {pg_vols}")
checks.check("postgres profile: the server's password is a secret",
             str(environment(postgres).get("POSTGRES_PASSWORD_FILE", "")).startswith("/run/secrets/")
             and "POSTGRES_PASSWORD" not in environment(postgres), f"environment: {environment(postgres)}")
checks.check("postgres profile: the server has a pg_isready healthcheck",
             "pg_isready" in " ".join(postgres.get("healthcheck", {}).get("test", [])),
             f"healthcheck: {postgres.get('healthcheck')}")
checks.check("postgres profile: at least two collectors on PostgreSQL", len(pg_collectors) >= 2,
             f"collectors with --db postgres://: {sorted(pg_collectors)}")
for name, service in sorted(pg_collectors.items()):
    flags = command_flags(service)
    url = flags.get("--db", "")
    checks.check(f"postgres profile: {name} has no password in its URL",
                 not re.match(r"postgres(ql)?://[^/@]*:[^/@]*@", url), "the URL carries a password")
    checks.check(f"postgres profile: {name} reads the password from a secret",
                 flags.get("--db-password-file", "").startswith("/run/secrets/")
                 and flags["--db-password-file"].removeprefix("/run/secrets/") in secret_names(service),
                 f"--db-password-file {flags.get('--db-password-file')!r}, secrets {secret_names(service)}")
    checks.check(f"postgres profile: {name} waits for the server",
                 (service.get("depends_on") or {}).get("postgres", {}).get("condition") == "service_healthy",
                 f"depends_on: {service.get('depends_on')}")
    checks.check(f"postgres profile: {name} is reached through the balancer only", not service.get("ports"),
                 f"ports: {service.get('ports')}")
checks.check("postgres profile: a load balancer is published", in_profile(balancer) and bool(balancer.get("ports")),
             f"lb: {balancer}")
lb_config_path = next((src for target, (src, _) in volume_targets(balancer).items()
                       if src and src.endswith(".cfg")), None)
lb_config = ""
if lb_config_path and os.path.isfile(os.path.join(ROOT, lb_config_path)):
    with open(os.path.join(ROOT, lb_config_path), encoding="utf-8") as f:
        lb_config = f.read()
checks.check("postgres profile: the balancer's config is in the repository", bool(lb_config),
             f"config {lb_config_path!r}")
servers = set(re.findall(r"^\s*server\s+\S+\s+([A-Za-z0-9_.-]+):8080", lb_config, re.M))
checks.check("postgres profile: the balancer sends to every PostgreSQL collector",
             bool(pg_collectors) and servers == set(pg_collectors),
             f"servers {sorted(servers)} vs collectors {sorted(pg_collectors)}")
checks.check("postgres profile: the balancer checks the collectors on /readyz", "uri /readyz" in lb_config,
             "no `http-check send meth GET uri /readyz`")
haproxy = shutil.which("haproxy")
if haproxy and lb_config:
    result = subprocess.run([haproxy, "-c", "-f", os.path.join(ROOT, lb_config_path)], capture_output=True,
                            text=True, timeout=30)
    checks.check("postgres profile: haproxy -c accepts the balancer's config", result.returncode == 0,
                 (result.stdout + result.stderr).strip()[-500:])
else:
    checks.skip("postgres profile: haproxy -c accepts the balancer's config", "haproxy is not installed")

# --- names the binaries actually know -------------------------------------------------------
def yaml_keys(node, prefix=""):
    keys = set()
    if isinstance(node, dict):
        for k, v in node.items():
            key = f"{prefix}{k}"
            keys.add(key)
            keys |= yaml_keys(v, key + ".")
    return keys


def env_names_for(config_path):
    """OOMWATCH_* names of every key in a documented config file (commented-out keys
    included: `# key: value` lines document defaults)."""
    with open(config_path, encoding="utf-8") as f:
        text = f.read()
    key_line = re.compile(r"^(\s*)# ([a-z_]+:(\s.*)?)$")
    uncommented = "\n".join(key_line.sub(r"\1\2", line) for line in text.splitlines())
    try:
        doc = yaml.safe_load(uncommented)
    except yaml.YAMLError:
        doc = yaml.safe_load(text)
    return {"OOMWATCH_" + k.upper().replace(".", "_") for k in yaml_keys(doc or {})}


for name, service, config in (
    ("agent", agent, "agent-config/agent.yaml"),
    ("collector", collector, "server-config/collector.yaml"),
):
    path = os.path.join(ROOT, config)
    used = {k for k in environment(service) if k.startswith("OOMWATCH_")}
    if not used:
        continue
    if not os.path.isfile(path):
        checks.skip(f"{name} environment names are documented keys", f"{config} does not exist yet")
        continue
    known = env_names_for(path)
    unknown = sorted(used - known)
    checks.check(f"{name} environment names are keys in {config}", not unknown,
                 f"{unknown} match no key in {config}")

bin_dir = os.environ.get("OOMWATCH_BIN_DIR", "")
for name, service, binary, verb in [
    ("agent", agent, "oomwatch-agent", "run"),
    ("collector", collector, "oomwatch-collector", "serve"),
] + [(name, service, "oomwatch-collector", "serve") for name, service in sorted(pg_collectors.items())]:
    exe = os.path.join(bin_dir, binary)
    if not bin_dir or not os.access(exe, os.X_OK):
        checks.skip(f"{name} flags are accepted by {binary}", "no release binaries at $OOMWATCH_BIN_DIR")
        continue
    result = subprocess.run([exe, verb, "--help"], capture_output=True, text=True, timeout=30)
    helptext = result.stdout + result.stderr
    missing = sorted(f for f in command_flags(service) if f not in helptext)
    checks.check(f"{name} flags are accepted by {binary} {verb}", result.returncode == 0 and not missing,
                 f"not in `{binary} {verb} --help`: {missing} (exit {result.returncode})")

checks.exit()
