-- Indexes for the queries the Nostria service's repositories run (docs/service-repositories.md).

-- Usernames are compared ignoring case: lower("username") = lower($1). Prisma cannot declare an expression
-- index, so this one lives here only (schema.prisma says so beside the Account model). It replaces the plain
-- index, which no query used: a case-insensitive comparison cannot use it.
DROP INDEX "accounts_username_idx";
CREATE INDEX "accounts_username_lower_idx" ON "accounts"(lower("username"));

-- getAllAccounts: newest first by created.
CREATE INDEX "accounts_created_idx" ON "accounts"("created");

-- getUsersByReleaseChannel.
CREATE INDEX "user_settings_releaseChannel_idx" ON "user_settings"("releaseChannel");

-- getUserBackupJobs: one user's jobs newest first by requested (replaces the pubkey-only index it extends).
DROP INDEX "backup_jobs_pubkey_idx";
CREATE INDEX "backup_jobs_pubkey_requested_idx" ON "backup_jobs"("pubkey", "requested");

-- getPendingBackupJobs: status 'pending' walked in requested order, the scheduled test applied on the way,
-- stopping at the limit (no sort of every pending job).
CREATE INDEX "backup_jobs_status_requested_idx" ON "backup_jobs"("status", "requested");

-- getAllPayments: newest first by created.
CREATE INDEX "payments_created_idx" ON "payments"("created");

-- A user's subscription for one device (replaces the pubkey-only index it extends).
DROP INDEX "notification_subscriptions_pubkey_idx";
CREATE INDEX "notification_subscriptions_pubkey_deviceKey_idx" ON "notification_subscriptions"("pubkey", "deviceKey");
