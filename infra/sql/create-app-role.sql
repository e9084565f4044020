-- One-time, as the server's Microsoft Entra administrator, in the `postgres` database (the pgaadauth
-- functions exist only there): maps a database role to the app's user-assigned managed identity, by
-- object id, so the role name need not match the identity's display name. Idempotent.
-- Microsoft Learn, "Manage Microsoft Entra roles in Azure Database for PostgreSQL".
--
--   psql "host=$PGHOST port=5432 dbname=postgres user=$PGUSER sslmode=verify-full" \
--     -v app_role="$APP_ROLE" -v app_object_id="$APP_PRINCIPAL_ID" -f infra/sql/create-app-role.sql
--
-- Not an administrator (isAdmin false) and no MFA claim required (a managed identity has none).
SELECT pgaadauth_create_principal_with_oid(:'app_role', :'app_object_id', 'service', false, false)
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_role');
