#!/usr/bin/env bash
# Coverage of the register's catalog by the shipped policies. The catalog lives beside
# the project (../shared/catalog/catalog.yaml); without it the test is skipped (77),
# never passed.
set -u
cli=$1 root=$2
catalog=${RETENTION_CATALOG:-$root/../shared/catalog/catalog.yaml}
if [ ! -f "$catalog" ]; then
  echo "SKIPPED: no catalog at $catalog (set RETENTION_CATALOG)"
  exit 77
fi
exec "$cli" policies coverage --catalog "$catalog" "$root/policies"
