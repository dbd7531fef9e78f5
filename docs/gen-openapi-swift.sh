#!/bin/sh
# Regenerates the copy of docs/openapi.yaml that the collector serves.
# OOMServerTests fail when the two differ.
set -eu
cd "$(dirname "$0")/.."
{
    echo '// Generated from docs/openapi.yaml by docs/gen-openapi-swift.sh: do not edit.'
    echo '// swift-format-ignore-file'
    echo 'enum OpenAPIDocument {'
    echo '    static let yaml = #"""'
    cat docs/openapi.yaml
    echo '"""#'
    echo '}'
} > Sources/OOMServer/OpenAPIDocument.swift
