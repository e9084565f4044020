-- CreateTable
CREATE TABLE "accounts" (
    "pubkey" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "username" TEXT,
    "tier" TEXT NOT NULL,
    "subscription" JSONB NOT NULL,
    "expires" BIGINT,
    "created" BIGINT NOT NULL,
    "modified" BIGINT,
    "lastLoginDate" BIGINT,
    "extra" JSONB NOT NULL DEFAULT '{}',
    "cosmosTs" BIGINT NOT NULL DEFAULT 0,
    "cosmosEtag" TEXT,

    CONSTRAINT "accounts_pkey" PRIMARY KEY ("pubkey")
);

-- CreateTable
CREATE TABLE "user_settings" (
    "pubkey" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL DEFAULT 'account-settings',
    "releaseChannel" TEXT,
    "socialSharing" BOOLEAN,
    "created" BIGINT NOT NULL,
    "xUserId" TEXT,
    "xUsername" TEXT,
    "xAccessToken" TEXT,
    "xAccessSecret" TEXT,
    "xRequestToken" TEXT,
    "xRequestSecret" TEXT,
    "xRequestCreated" BIGINT,
    "extra" JSONB NOT NULL DEFAULT '{}',
    "cosmosTs" BIGINT NOT NULL DEFAULT 0,
    "cosmosEtag" TEXT,

    CONSTRAINT "user_settings_pkey" PRIMARY KEY ("pubkey")
);

-- CreateTable
CREATE TABLE "backup_jobs" (
    "id" TEXT NOT NULL,
    "pubkey" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "backupType" TEXT NOT NULL,
    "requested" BIGINT NOT NULL,
    "scheduled" BIGINT,
    "started" BIGINT,
    "completed" BIGINT,
    "expires" BIGINT,
    "errorMessage" TEXT,
    "resultUrl" TEXT,
    "metadata" JSONB,
    "extra" JSONB NOT NULL DEFAULT '{}',
    "cosmosTs" BIGINT NOT NULL DEFAULT 0,
    "cosmosEtag" TEXT,

    CONSTRAINT "backup_jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payments" (
    "id" TEXT NOT NULL,
    "pubkey" TEXT NOT NULL,
    "paymentType" TEXT NOT NULL,
    "lnHash" TEXT NOT NULL,
    "lnInvoice" TEXT NOT NULL,
    "lnAmountSat" BIGINT NOT NULL,
    "tier" TEXT NOT NULL,
    "billingCycle" TEXT NOT NULL,
    "priceCents" INTEGER NOT NULL,
    "isPaid" BOOLEAN NOT NULL,
    "paid" BIGINT,
    "expires" BIGINT NOT NULL,
    "created" BIGINT NOT NULL,
    "modified" BIGINT,
    "purpose" TEXT,
    "creditNanosUsd" BIGINT,
    "applied" BOOLEAN,
    "extra" JSONB NOT NULL DEFAULT '{}',
    "cosmosTs" BIGINT NOT NULL DEFAULT 0,
    "cosmosEtag" TEXT,

    CONSTRAINT "payments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification_subscriptions" (
    "id" TEXT NOT NULL,
    "pubkey" TEXT NOT NULL,
    "subscription" JSONB NOT NULL,
    "deviceKey" TEXT NOT NULL,
    "created" BIGINT NOT NULL,
    "modified" BIGINT,
    "extra" JSONB NOT NULL DEFAULT '{}',
    "cosmosTs" BIGINT NOT NULL DEFAULT 0,
    "cosmosEtag" TEXT,

    CONSTRAINT "notification_subscriptions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification_settings" (
    "pubkey" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "enabled" BOOLEAN,
    "filters" JSONB,
    "settings" JSONB,
    "created" BIGINT NOT NULL,
    "modified" BIGINT,
    "extra" JSONB NOT NULL DEFAULT '{}',
    "cosmosTs" BIGINT NOT NULL DEFAULT 0,
    "cosmosEtag" TEXT,

    CONSTRAINT "notification_settings_pkey" PRIMARY KEY ("pubkey")
);

-- CreateTable
CREATE TABLE "notification_logs" (
    "id" TEXT NOT NULL,
    "pubkey" TEXT NOT NULL,
    "title" TEXT,
    "body" TEXT,
    "content" TEXT,
    "template" TEXT,
    "created" BIGINT NOT NULL,
    "modified" BIGINT,
    "extra" JSONB NOT NULL DEFAULT '{}',
    "cosmosTs" BIGINT NOT NULL DEFAULT 0,
    "cosmosEtag" TEXT,

    CONSTRAINT "notification_logs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "quarantine" (
    "key" TEXT NOT NULL,
    "documentId" TEXT,
    "pubkey" TEXT,
    "type" TEXT,
    "document" JSONB NOT NULL,
    "reason" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "cosmosTs" BIGINT NOT NULL DEFAULT 0,
    "quarantinedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "quarantine_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "migration_runs" (
    "id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "scope" JSONB NOT NULL DEFAULT '{}',
    "state" TEXT NOT NULL,
    "dryRun" BOOLEAN NOT NULL DEFAULT false,
    "processed" BIGINT NOT NULL DEFAULT 0,
    "written" BIGINT NOT NULL DEFAULT 0,
    "unchanged" BIGINT NOT NULL DEFAULT 0,
    "quarantined" BIGINT NOT NULL DEFAULT 0,
    "failed" BIGINT NOT NULL DEFAULT 0,
    "error" TEXT,
    "startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "migration_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "migration_checkpoints" (
    "runId" TEXT NOT NULL,
    "documentType" TEXT NOT NULL,
    "continuation" TEXT,
    "done" BOOLEAN NOT NULL DEFAULT false,
    "processed" BIGINT NOT NULL DEFAULT 0,
    "maxCosmosTs" BIGINT NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "migration_checkpoints_pkey" PRIMARY KEY ("runId","documentType")
);

-- CreateTable
CREATE TABLE "pending_sync" (
    "target" TEXT NOT NULL,
    "documentType" TEXT NOT NULL,
    "pubkey" TEXT NOT NULL,
    "documentId" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,
    "nextAttempt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pending_sync_pkey" PRIMARY KEY ("target","pubkey","documentId")
);

-- CreateTable
CREATE TABLE "sync_state" (
    "name" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_state_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE UNIQUE INDEX "accounts_id_key" ON "accounts"("id");

-- CreateIndex
CREATE INDEX "accounts_username_idx" ON "accounts"("username");

-- CreateIndex
CREATE UNIQUE INDEX "user_settings_id_key" ON "user_settings"("id");

-- CreateIndex
CREATE INDEX "backup_jobs_pubkey_idx" ON "backup_jobs"("pubkey");

-- CreateIndex
CREATE INDEX "payments_pubkey_idx" ON "payments"("pubkey");

-- CreateIndex
CREATE INDEX "payments_lnHash_idx" ON "payments"("lnHash");

-- CreateIndex
CREATE INDEX "notification_subscriptions_pubkey_idx" ON "notification_subscriptions"("pubkey");

-- CreateIndex
CREATE UNIQUE INDEX "notification_settings_id_key" ON "notification_settings"("id");

-- CreateIndex
CREATE INDEX "notification_logs_pubkey_created_idx" ON "notification_logs"("pubkey", "created");

-- CreateIndex
CREATE INDEX "quarantine_type_idx" ON "quarantine"("type");

-- CreateIndex
CREATE INDEX "migration_runs_startedAt_idx" ON "migration_runs"("startedAt");

-- CreateIndex
CREATE INDEX "pending_sync_nextAttempt_idx" ON "pending_sync"("nextAttempt");

-- AddForeignKey
ALTER TABLE "migration_checkpoints" ADD CONSTRAINT "migration_checkpoints_runId_fkey" FOREIGN KEY ("runId") REFERENCES "migration_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
