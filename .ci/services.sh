#!/usr/bin/env bash
# Install Debian's servers and build headers the tests need, if this machine lacks them.
# The tests start and stop their own instances (unix socket / loopback, temp dirs):
#   PostgreSQL, redis-server            tests/services.py
#   MariaDB, memcached, RabbitMQ,       tests/services_more.py (the compatibility
#   OpenLDAP's slapd, OpenSSH's sshd     matrix's evidence, audits/)
# Headers: mysqlclient (libmariadb-dev), pylibmc (libmemcached-dev), pycurl
# (libcurl4-openssl-dev), python-ldap (libldap2-dev, libsasl2-dev) build from source when
# pip installs the test extra, which comes after this script in .ci/run.
set -euo pipefail
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)
command -v memcached >/dev/null 2>&1 || need+=(memcached)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
[ -x /usr/sbin/slapd ] || need+=(slapd)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
for pkg in libmariadb-dev libmemcached-dev libcurl4-openssl-dev libldap2-dev libsasl2-dev \
           pkg-config build-essential; do
  have_pkg "$pkg" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages' own services from starting (and outliving CI): the tests start
  # private instances. Docker images usually ship this file already.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
fi
