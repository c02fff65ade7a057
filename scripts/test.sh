#!/usr/bin/env bash
# The whole test suite: `npm test`. Installs the Debian tools the tests use when they are missing
# (and says so), then runs Vitest once and prints a one-line summary.
set -uo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package: the real components the suites start on loopback.
need=()
command -v oathtool >/dev/null 2>&1 || need+=(oathtool)
command -v slapd >/dev/null 2>&1 || need+=(slapd)
command -v ldapwhoami >/dev/null 2>&1 || need+=(ldap-utils)
command -v samba >/dev/null 2>&1 || need+=(samba-ad-dc samba-ad-provision)
# The Samba fixture issues its own test CA and server certificate.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v rsyslogd >/dev/null 2>&1 || need+=(rsyslog)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || need+=(rsyslog-gnutls)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "test setup: installing missing Debian packages: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    sudo apt-get update -qq >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi || { echo "test setup: could not install ${need[*]}"; exit 1; }
fi

mkdir -p .tmp
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest-report.json "$@"
status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(".tmp/vitest-report.json", "utf8"));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' || true
exit $status
