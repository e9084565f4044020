-- As the Entra administrator who runs `npm run db:migrate`, in the app's database (`nostria`), after
-- create-app-role.sql and after the migrations: what the app needs and nothing more. It reads and writes
-- rows (version-guarded upserts, deletes, its run/checkpoint/quarantine/pending_sync tables); it never
-- changes the schema, which stays with the migrating administrator. Idempotent: run it again after any
-- migration that adds tables (the default privileges below cover tables the same administrator creates).
--
--   psql "host=$PGHOST port=5432 dbname=nostria user=$PGUSER sslmode=verify-full" \
--     -v app_role="$APP_ROLE" -v database=nostria -f infra/sql/grant-app-privileges.sql
GRANT CONNECT ON DATABASE :"database" TO :"app_role";
GRANT USAGE ON SCHEMA public TO :"app_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_role";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_role";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO :"app_role";
-- The migration ledger is the migrating administrator's alone.
REVOKE ALL ON TABLE _prisma_migrations FROM :"app_role";
