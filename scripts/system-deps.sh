#!/usr/bin/env bash
# Debian packages the tests and `driftline up` use: a PostgreSQL server (the store's tests run on it too),
# Prometheus with promtool (scraping, alert rules), Chromium (the report is checked in a real browser), wrk
# (benchmarks) and chattr (a store file made unwritable). Installs only what is missing; needs root or
# passwordless sudo for apt-get.
set -euo pipefail

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chattr >/dev/null 2>&1 || need+=(e2fsprogs)  # the SQLite outage test freezes the store file
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
