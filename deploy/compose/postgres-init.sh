#!/usr/bin/env bash
# docker-compose.yml only: run once by the postgres image on an empty data volume
# (/docker-entrypoint-initdb.d). One database per service, each owned by its own login
# role of the same name; passwords come from the environment, never from this file.
#
#   ORDERFLOW_DATABASES    "catalog cart ..." (rendered by orderflow_devinfra.compose)
#   ORDERFLOW_DB_PASSWORD  the services' password (from .env)
set -eo pipefail

: "${ORDERFLOW_DATABASES:?ORDERFLOW_DATABASES is required}"
: "${ORDERFLOW_DB_PASSWORD:?ORDERFLOW_DB_PASSWORD is required}"

for db in $ORDERFLOW_DATABASES; do
    # psql variables (:"ident", :'literal') quote the name and the password.
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
        --dbname postgres --set=name="$db" --set=password="$ORDERFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
    echo "orderflow: database and role $db created"
done
