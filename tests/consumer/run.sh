#!/usr/bin/env bash
# Installs arpo4j into the local Maven repository, then builds and runs tests/consumer against it.
#   tests/consumer/run.sh            builds and installs first (a full package with the native build)
#   tests/consumer/run.sh --built    installs target/arpo4j.jar, which a previous `mvn package`/`verify`
#                                    built, as it is (what .ci/run does right after the test suite)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ "${1:-}" = "--built" ]; then
  jar="$root/target/arpo4j.jar" # the pom's finalName
  if [ ! -f "$jar" ]; then
    echo "tests/consumer/run.sh --built: no $jar; run mvn package first" >&2
    exit 2
  fi
  (cd "$root" && mvn -B -ntp -q install:install-file -Dfile="$jar" -DpomFile=pom.xml)
else
  (cd "$root" && mvn -B -ntp -q -DskipTests install)
fi
cd "$root/tests/consumer"
mvn -B -ntp -q compile exec:java
