-- The switch between Cosmos DB and PostgreSQL as primary (migrate:switch), and what makes it lose nothing.

-- A row the service wrote in PostgreSQL holds that version's content hash in "awaitingCosmos" until the change
-- feed shows Cosmos holding the same version (the mirror's copy, carrying the same hash as its marker).
-- Meanwhile no Cosmos version replaces or deletes the row. The partial indexes find such rows when the
-- switch back to Cosmos drains them; Prisma cannot declare a partial index, so they live here only.
ALTER TABLE "accounts" ADD COLUMN "awaitingCosmos" TEXT;
ALTER TABLE "user_settings" ADD COLUMN "awaitingCosmos" TEXT;
ALTER TABLE "backup_jobs" ADD COLUMN "awaitingCosmos" TEXT;
ALTER TABLE "payments" ADD COLUMN "awaitingCosmos" TEXT;
ALTER TABLE "notification_subscriptions" ADD COLUMN "awaitingCosmos" TEXT;
ALTER TABLE "notification_settings" ADD COLUMN "awaitingCosmos" TEXT;
ALTER TABLE "notification_logs" ADD COLUMN "awaitingCosmos" TEXT;
CREATE INDEX "accounts_awaitingCosmos_idx" ON "accounts"("awaitingCosmos") WHERE "awaitingCosmos" IS NOT NULL;
CREATE INDEX "user_settings_awaitingCosmos_idx" ON "user_settings"("awaitingCosmos") WHERE "awaitingCosmos" IS NOT NULL;
CREATE INDEX "backup_jobs_awaitingCosmos_idx" ON "backup_jobs"("awaitingCosmos") WHERE "awaitingCosmos" IS NOT NULL;
CREATE INDEX "payments_awaitingCosmos_idx" ON "payments"("awaitingCosmos") WHERE "awaitingCosmos" IS NOT NULL;
CREATE INDEX "notification_subscriptions_awaitingCosmos_idx" ON "notification_subscriptions"("awaitingCosmos") WHERE "awaitingCosmos" IS NOT NULL;
CREATE INDEX "notification_settings_awaitingCosmos_idx" ON "notification_settings"("awaitingCosmos") WHERE "awaitingCosmos" IS NOT NULL;
CREATE INDEX "notification_logs_awaitingCosmos_idx" ON "notification_logs"("awaitingCosmos") WHERE "awaitingCosmos" IS NOT NULL;

-- CreateTable
CREATE TABLE "switch_state" (
    "name" TEXT NOT NULL,
    "phase" TEXT NOT NULL,
    "previousPhase" TEXT NOT NULL,
    "epoch" INTEGER NOT NULL,
    "switchId" TEXT,
    "fenceUntil" TIMESTAMPTZ(3),
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "switch_state_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "switches" (
    "id" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "fromPhase" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "checks" JSONB,
    "requestedBy" TEXT,
    "error" TEXT,
    "fencedAt" TIMESTAMPTZ(3),
    "flippedAt" TIMESTAMPTZ(3),
    "pauseMs" INTEGER,
    "startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "switches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "switch_steps" (
    "switchId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "step" TEXT NOT NULL,
    "detail" JSONB,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "switch_steps_pkey" PRIMARY KEY ("switchId","seq")
);

-- CreateIndex
CREATE INDEX "switches_startedAt_idx" ON "switches"("startedAt");

-- AddForeignKey
ALTER TABLE "switch_steps" ADD CONSTRAINT "switch_steps_switchId_fkey" FOREIGN KEY ("switchId") REFERENCES "switches"("id") ON DELETE CASCADE ON UPDATE CASCADE;
