#!/usr/bin/env bash
# The system set-up the test suite needs, run by `python3 dev.py test` (and so by CI, whose
# .ci/run runs that): Debian's servers and build headers, installed when missing.
#
# The tests start and stop their own instances (unix socket / loopback, temp dirs):
#   PostgreSQL, redis-server            tests/services.py
#   MariaDB, memcached, RabbitMQ,       tests/services_more.py (the compatibility
#   OpenLDAP's slapd, OpenSSH's sshd     matrix's evidence, audits/)
#   Chromium                            tests/report_html/test_browser.py
# Headers: mysqlclient (libmariadb-dev), pylibmc (libmemcached-dev), python-ldap (libldap2-dev,
# libsasl2-dev) and uWSGI build from source when dev.py installs the `test-native` dependency
# group, after this script (libcurl4-openssl-dev: for pycurl where it has no wheel).
#
# As root with apt-get it installs what is missing. Anywhere else (not root, no apt, apt
# failing) it says in one line what to install and goes on: dev.py runs the rest, and the
# tests that need what is missing are skipped and counted (failed under
# PATCHKIT_REQUIRE_SERVICES=1, as in CI). Its last line on standard output is always
# `missing: NAME ...` (empty when nothing is), which dev.py reads.
set -uo pipefail

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing_packages() {
  local need=()
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)
  command -v memcached >/dev/null 2>&1 || need+=(memcached)
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
  [ -x /usr/sbin/slapd ] || need+=(slapd)
  [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in libmariadb-dev libmemcached-dev libcurl4-openssl-dev libldap2-dev libsasl2-dev \
               pkg-config build-essential; do
      have_pkg "$pkg" || need+=("$pkg")
    done
  fi
  echo "${need[*]:-}"
}

install_packages() {
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages' own services from starting (and outliving the run): the tests start
  # private instances. Docker images usually ship this file already.
  local policy=/usr/sbin/policy-rc.d made_policy=0 status=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
  fi
  echo "services.sh: installing Debian's $* ..." >&2
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } \
    || status=$?
  if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
  return "$status"
}

need=$(missing_packages)
if [ -n "$need" ]; then
  # shellcheck disable=SC2086  # one word a package
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && install_packages $need; then
    :
  elif [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "services.sh: not root with apt-get, so not installing Debian's: $need" \
         "(sudo apt-get install $need; the tests that need them are skipped)" >&2
  else
    echo "services.sh: apt-get could not install: $need (the tests that need them are skipped)" >&2
  fi
  need=$(missing_packages)
fi
echo "missing: $need"
