-- The operator's desk. A quarantine entry is open until an operator resolves it (who, when, why) or its document
-- is deleted in Cosmos (closed: when, and what saw it gone); either way it is kept, not erased, and only open
-- entries count. A pending_sync entry counts the failed writes it stands for ("writes") apart from its failed
-- tries ("attempts", which set the backoff), so a write joining an entry no longer pushes its retry out.
-- AlterTable
ALTER TABLE "pending_sync" ADD COLUMN     "writes" INTEGER NOT NULL DEFAULT 1;

-- AlterTable
ALTER TABLE "quarantine" ADD COLUMN     "closedAt" TIMESTAMPTZ(3),
ADD COLUMN     "closedBy" TEXT,
ADD COLUMN     "resolution" TEXT,
ADD COLUMN     "resolvedAt" TIMESTAMPTZ(3),
ADD COLUMN     "resolvedBy" TEXT,
ADD COLUMN     "status" TEXT NOT NULL DEFAULT 'open';

-- CreateIndex
CREATE INDEX "quarantine_status_reasonCode_idx" ON "quarantine"("status", "reasonCode");

-- CreateIndex
CREATE INDEX "quarantine_pubkey_idx" ON "quarantine"("pubkey");
