#!/usr/bin/env bash
# Usage: tools/new_migration.sh NUMBER SLUG "message" — autogenerate a migration against the
# development database (upgraded to head first) and give it a readable, ordered revision id.
set -euo pipefail
cd "$(dirname "$0")/.."
export APP_ENV=development FLASK_APP=backend.app:create_app
number=$1 slug=$2 message=$3
.venv/bin/flask db upgrade >/dev/null
out=$(.venv/bin/flask db migrate -m "$message" 2>&1)
file=$(printf '%s\n' "$out" | sed -n 's/^Generating \(.*\.py\) \.\.\..*done$/\1/p')
[ -n "$file" ] || { printf '%s\n' "$out" >&2; exit 1; }
rev=$(grep -m1 '^revision' "$file" | cut -d"'" -f2)
sed -i "s/$rev/$number/g" "$file"
mv "$file" "migrations/versions/${number}_${slug}.py"
echo "migrations/versions/${number}_${slug}.py"
