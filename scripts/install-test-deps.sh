#!/usr/bin/env bash
# Installs the pinned test tools (moto server, kubectl, Helm bindings,
# kubernetes-validate, Lua) into a virtualenv under the user's cache
# directory. Idempotent: a second run with the same pins does nothing; a
# change to either requirements file reinstalls. Prints the virtualenv path
# on its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="$here/test-requirements.txt"
# Pins whose wheels declare a newer Python than they need.
any_python="$here/test-requirements-any-python.txt"
venv="${STACKOPS_TEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/stackops/venv}"
stamp="$venv/.requirements.sha256"
wanted="$(cat "$requirements" "$any_python" | sha256sum | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" && -x "$venv/bin/moto_server" ]]; then
  echo "test tools already installed" >&2
else
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --ignore-requires-python -r "$any_python"
  echo "$wanted" > "$stamp"
fi
echo "$venv"
