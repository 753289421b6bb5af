#!/usr/bin/env bash
# Start (or reuse) a throw-away PostgreSQL and Redis on 127.0.0.1 without systemd; used by
# .ci/run and `make bench`. Usage: tools/services.sh start|stop  (env: SERVICES_DIR, PGPORT,
# REDISPORT). Needs Debian's postgresql and redis-server; runs PostgreSQL as the postgres user.
set -euo pipefail
W=${SERVICES_DIR:-/tmp/carbon-services}
PGPORT=${PGPORT:-15432}
REDISPORT=${REDISPORT:-16379}
# PostgreSQL's 128 MB default buffer cache is sized for a small shared host: the bench's
# database (2 M records) does not fit, so its reads went to the OS cache and the bulk loads'
# backends wrote dirty pages out themselves (round 8). 1 GB, as a database server's
# configuration would give it (docker-compose.yml); PG_SHARED_BUFFERS overrides it.
PGOPTS="-p $PGPORT -k $W/pgsock -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=${PG_SHARED_BUFFERS:-1GB}"

# A fresh machine: install Debian's servers when we may (root with apt-get), else say what to do.
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's postgresql and redis-server"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      postgresql redis-server >/dev/null
  else
    echo "tools/services.sh: needs Debian's postgresql and redis-server" \
      "(sudo apt-get install postgresql redis-server)" >&2
    exit 2
  fi
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

start() {
  mkdir -p "$W/pg" "$W/pgsock"
  chmod 755 "$W"
  chown postgres:postgres "$W/pg" "$W/pgsock"
  if ! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; then
    [ -f "$W/pg/data/PG_VERSION" ] || su postgres -c \
      "$PGBIN/initdb -D $W/pg/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
    su postgres -c "$PGBIN/pg_ctl -D $W/pg/data -l $W/pg/log -w -o '$PGOPTS' start" >/dev/null
  fi
  "$PGBIN/pg_isready" -h 127.0.0.1 -p "$PGPORT"
  if ! redis-cli -p "$REDISPORT" ping >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDISPORT" --save '' \
      --appendonly no --pidfile "$W/redis.pid" --logfile "$W/redis.log" --dir "$W"
  fi
  for _ in $(seq 50); do redis-cli -p "$REDISPORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  echo "redis on 127.0.0.1:$REDISPORT: $(redis-cli -p "$REDISPORT" ping)"
}

stop() {
  [ -f "$W/pg/data/PG_VERSION" ] && su postgres -c "$PGBIN/pg_ctl -D $W/pg/data -m fast -w stop" || true
  redis-cli -p "$REDISPORT" shutdown nosave 2>/dev/null || true
}

"${1:-start}"
