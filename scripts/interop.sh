#!/usr/bin/env bash
# The interop suite (Tests/interop): a running `petrel serve` driven by outside clients
# (Python smtplib and imaplib, swaks, Postfix's smtp-source). Runs in a fresh database, petrel_interop, on the
# PostgreSQL server of PETREL_TEST_DATABASE_URL (dropped and created again each run).
#   PETREL_BIN=.build/debug/petrel scripts/with-test-postgres.sh scripts/interop.sh
# Extra arguments go to unittest, e.g. scripts/interop.sh -k swaks
set -euo pipefail
: "${PETREL_BIN:?set PETREL_BIN to the petrel binary}"
: "${PETREL_TEST_DATABASE_URL:?not set: run this under scripts/with-test-postgres.sh}"
case "$PETREL_BIN" in /*) ;; *) PETREL_BIN="$PWD/$PETREL_BIN" ;; esac
export PETREL_BIN
cd "$(dirname "$0")/.."

db=petrel_interop
psql -X -q -v ON_ERROR_STOP=1 -d "$PETREL_TEST_DATABASE_URL" \
  -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
base="${PETREL_TEST_DATABASE_URL%%\?*}"            # postgres://user@host:port/dbname
query="${PETREL_TEST_DATABASE_URL#"$base"}"        # ?options, if any
export PETREL_DATABASE_URL="${base%/*}/$db$query"

exec python3 -m unittest discover -s Tests/interop -t Tests/interop -v "$@"
