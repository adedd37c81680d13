#!/usr/bin/env bash
# Installs uv (pinned) into its own venv outside the repo: $1 = that venv's dir.
# Debian's python3 may lack the venv module (package python3-venv): installed when root.
set -euo pipefail
uv_home=${1:?usage: bootstrap-uv.sh UV_VENV_DIR [UV_VERSION]}
uv_version=${2:-0.13.8}

if [[ -x "$uv_home/bin/uv" ]] && "$uv_home/bin/uv" --version | grep -qF " $uv_version"; then
    exit 0
fi
rm -rf "$uv_home"
if ! python3 -m venv "$uv_home" 2>/dev/null; then
    rm -rf "$uv_home"
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "python3 -m venv failed: installing python3-venv" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends python3-venv >/dev/null
        python3 -m venv "$uv_home"
    else
        echo "python3 -m venv failed: install python3-venv (or your OS's equivalent)" >&2
        exit 1
    fi
fi
"$uv_home/bin/pip" install --quiet --disable-pip-version-check "uv==$uv_version"
"$uv_home/bin/uv" --version
