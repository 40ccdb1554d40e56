#!/usr/bin/env bash
# Install what the browser tests (tests/test_web_browser.py) need on a Debian machine:
# Debian's Chromium at /usr/bin/chromium.  Playwright for Python comes from the `test` extra
# (pip); it drives this Chromium through `executable_path`, so `playwright install` (which
# downloads a browser build) is never run.  Idempotent: nothing is installed twice.
#
#   bash scripts/ci-browser.sh            # Chromium only
#   bash scripts/ci-browser.sh --fonts    # also CJK fonts, for screenshots with Chinese labels
#
# The browser tests FAIL (not skip) when CI is set and Chromium is missing.
set -euo pipefail

want_fonts=0
[ "${1:-}" = "--fonts" ] && want_fonts=1

log() { echo "ci-browser: $*" >&2; }

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
if [ "$want_fonts" = 1 ] && ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    packages+=(fonts-noto-cjk)
fi

if [ "${#packages[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        log "no apt-get: install ${packages[*]} by hand"
        exit 1
    fi
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    log "installing ${packages[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq >&2
    "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >&2
fi

/usr/bin/chromium --version >&2 2>/dev/null || { log "/usr/bin/chromium does not run"; exit 1; }
