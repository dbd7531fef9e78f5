#!/usr/bin/env bash
# Builds the libFuzzer targets with address sanitizer, straight from the package's
# sources (no SwiftPM: the fuzz builds must not disturb .build/):
#   Fuzz/.build/kernel-log-fuzz   OOMKit's kernel-log scanner and kmsg record parser
#   Fuzz/.build/ingest-fuzz       the collector's ingest decode + validate (OOMKit's IngestValidator)
#   Fuzz/.build/agent-json-fuzz   OOMKit's JSON reader/writer, as the agent uses them
#   Fuzz/.build/upload-response-fuzz  a collector's answer to an upload, as the agent reads it
set -euo pipefail
cd "$(dirname "$0")/.."
out=Fuzz/.build
mkdir -p "$out"
# One build at a time (scripts/fuzz may be started for both targets at once).
exec 9>"$out/.lock"
flock 9
flags=(-sanitize=fuzzer,address -parse-as-library -O -g
    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature InternalImportsByDefault)
# Compile a copy: the tree is shared and a file edited mid-build fails swiftc.
rm -rf "$out/src" && mkdir -p "$out/src/OOMAgent"
cp -R Sources/OOMKit "$out/src/OOMKit"
cp Sources/OOMAgent/Upload/UploadBackoff.swift "$out/src/OOMAgent/"
mapfile -t kit < <(find "$out/src/OOMKit" -name '*.swift' | sort)
quiet() { grep -v "Cannot export local symbol '__asan" || true; }

# Kernel log: the entry in OOMKit's own module, so internal API is reachable.
swiftc "${flags[@]}" -module-name OOMKit "${kit[@]}" Fuzz/KernelLog/Entry.swift \
    -o "$out/kernel-log-fuzz" 2>&1 | quiet

# Agent JSON: likewise in OOMKit's module.
swiftc "${flags[@]}" -module-name OOMKit "${kit[@]}" Fuzz/AgentJSON/Entry.swift \
    -o "$out/agent-json-fuzz" 2>&1 | quiet

# Upload response: OOMKit plus the agent's backoff (which needs only OOMKit), one module.
swiftc "${flags[@]}" -module-name OOMKit "${kit[@]}" "$out/src/OOMAgent/UploadBackoff.swift" \
    Fuzz/UploadResponse/Entry.swift -o "$out/upload-response-fuzz" 2>&1 | quiet

# Ingest: the validation lives with the models, so the entry joins OOMKit's module too.
swiftc "${flags[@]}" -module-name OOMKit "${kit[@]}" Fuzz/Ingest/Entry.swift \
    -o "$out/ingest-fuzz" 2>&1 | quiet
test -x "$out/kernel-log-fuzz" && test -x "$out/ingest-fuzz" && test -x "$out/agent-json-fuzz" \
    && test -x "$out/upload-response-fuzz"
echo "built $out/kernel-log-fuzz $out/ingest-fuzz $out/agent-json-fuzz $out/upload-response-fuzz"
