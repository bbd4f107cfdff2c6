#!/usr/bin/env bash
# One-time set-up for gandiag from a checkout: the package with its test extras and,
# where this user can install system packages, Debian's Chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --upgrade --quiet pip
# --upgrade-strategy eager: what a new user gets today, even on a machine that already
# has older versions of the dependencies (a green run on old packages hides failures).
# GANDIAG_CONSTRAINTS=constraints/tested.txt installs the set last tested instead.
if [ -n "${GANDIAG_CONSTRAINTS:-}" ]; then
    python3 -m pip install --quiet -c "$GANDIAG_CONSTRAINTS" -e ".[test]"
else
    python3 -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[test]"
fi

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    :
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium and chromium-driver for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
    echo "setup: chromium/chromedriver not found; browser tests will be skipped." \
         "Install them with: sudo apt-get install chromium chromium-driver" >&2
fi
echo "setup: done ($(python3 -c 'import gandiag, torch; print("gandiag", gandiag.__version__, "/ torch", torch.__version__)'))"
