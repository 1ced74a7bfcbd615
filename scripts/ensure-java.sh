#!/usr/bin/env bash
# Installs a Debian Java runtime for the Spark tests (PySpark 4 needs Java 17 or 21), when
# `java` is missing. Non-interactive: safe under CI=true with no stdin.
set -euo pipefail
if command -v java >/dev/null 2>&1 || [ -n "${JAVA_HOME:-}" ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "[java] java is missing and this user cannot install it: run 'apt-get install openjdk-17-jre-headless' as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
PKG=$(apt-cache show openjdk-17-jre-headless >/dev/null 2>&1 && echo openjdk-17-jre-headless || echo default-jre-headless)
echo "[java] installing Debian's $PKG (for the Spark tests)"
$SUDO apt-get install -y -qq --no-install-recommends "$PKG" </dev/null >/dev/null
java -version
