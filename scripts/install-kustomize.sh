#!/usr/bin/env bash
# Installs the pinned kustomize (built from source through the Go module proxy) into the
# cache, outside the repository; prints its path. Needs Go >= 1.24. tests/deploy call it
# when the binary is missing.
#   scripts/install-kustomize.sh [BIN_DIR] [VERSION]
set -euo pipefail
bin_dir=${1:-${HOME}/.cache/orderflow/bin}
version=${2:-v5.8.1}
target="$bin_dir/kustomize-$version"

if [[ -x $target ]]; then
    echo "$target"
    exit 0
fi
if ! command -v go >/dev/null; then
    echo "install-kustomize: go is not installed (kustomize $version is built with it)" >&2
    exit 1
fi
mkdir -p "$bin_dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Built where no go.mod is in sight; the go command's own toolchain, no download.
(cd "$tmp" && GOBIN="$tmp/bin" GOTOOLCHAIN=local GOFLAGS=-mod=mod \
    go install "sigs.k8s.io/kustomize/kustomize/v5@$version") >&2
mv "$tmp/bin/kustomize" "$target"
echo "$target"
