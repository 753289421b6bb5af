#!/usr/bin/env bash
# Back up and restore the platform's PostgreSQL database (DATABASE_URL) with pg_dump/pg_restore.
# `make backup` and `make restore FILE=...` call this, and so does the test that backs up,
# wipes, restores and reconciles (tests/security/test_backup.py).
#
#   tools/backup.sh backup [DIR]    custom-format dump to DIR/<UTC timestamp>.dump (DIR: backups);
#                                   prints the file written
#   tools/backup.sh restore FILE    pg_restore --clean --if-exists into DATABASE_URL, in one
#                                   transaction (all or nothing); stop the web and workers first
set -euo pipefail

url=${DATABASE_URL:-}
case "$url" in
  postgres://* | postgresql://* | postgresql+*://*) ;;
  *)
    echo "tools/backup.sh: DATABASE_URL is not a PostgreSQL URL (${url:-unset: SQLite under instance/})." >&2
    echo "Backups are for PostgreSQL deployments. The development database is the SQLite file" >&2
    echo "instance/carbon.db: stop 'make run' and copy the file instead." >&2
    exit 2
    ;;
esac
# libpq does not know SQLAlchemy's driver suffix (postgresql+psycopg://)
url=$(printf '%s' "$url" | sed -E 's#^postgresql\+[a-z0-9]+://#postgresql://#')

case "${1:-}" in
  backup)
    dir=${2:-backups}
    mkdir -p "$dir"
    file="$dir/$(date -u +%Y%m%dT%H%M%SZ).dump"
    pg_dump --format=custom --no-owner --no-privileges --file "$file.partial" "$url"
    mv "$file.partial" "$file"  # a dump is never seen half-written
    echo "$file"
    ;;
  restore)
    file=${2:?usage: tools/backup.sh restore FILE}
    [ -f "$file" ] || { echo "tools/backup.sh: no such file: $file" >&2; exit 2; }
    pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction \
      --exit-on-error --dbname "$url" "$file"
    echo "restored $file"
    ;;
  *)
    echo "usage: tools/backup.sh backup [DIR] | restore FILE" >&2
    exit 2
    ;;
esac
