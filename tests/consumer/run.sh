#!/usr/bin/env bash
# Installs arpo4j into the local Maven repository, then builds and runs tests/consumer against it.
# Slow (a full package with the native build): run by hand or in CI, not by scripts/test.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
(cd "$root" && mvn -B -ntp -q -DskipTests install)
cd "$root/tests/consumer"
mvn -B -ntp -q compile exec:java
