-- AlterTable
ALTER TABLE "accounts" ADD COLUMN     "cosmosLsn" BIGINT;

-- AlterTable
ALTER TABLE "backup_jobs" ADD COLUMN     "cosmosLsn" BIGINT;

-- AlterTable
ALTER TABLE "migration_runs" ADD COLUMN     "heartbeatAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- AlterTable
ALTER TABLE "notification_logs" ADD COLUMN     "cosmosLsn" BIGINT;

-- AlterTable
ALTER TABLE "notification_settings" ADD COLUMN     "cosmosLsn" BIGINT;

-- AlterTable
ALTER TABLE "notification_subscriptions" ADD COLUMN     "cosmosLsn" BIGINT;

-- AlterTable
ALTER TABLE "payments" ADD COLUMN     "cosmosLsn" BIGINT;

-- AlterTable
ALTER TABLE "quarantine" ADD COLUMN     "competesFor" TEXT,
ADD COLUMN     "reasonCode" TEXT NOT NULL DEFAULT 'unmappable';

-- AlterTable
ALTER TABLE "user_settings" ADD COLUMN     "cosmosLsn" BIGINT;

-- CreateTable
CREATE TABLE "tombstones" (
    "pubkey" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "cosmosTs" BIGINT NOT NULL,
    "cosmosLsn" BIGINT,
    "deletedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tombstones_pkey" PRIMARY KEY ("pubkey","id")
);

-- CreateIndex
CREATE INDEX "tombstones_deletedAt_idx" ON "tombstones"("deletedAt");

-- CreateIndex
CREATE INDEX "quarantine_competesFor_idx" ON "quarantine"("competesFor");
