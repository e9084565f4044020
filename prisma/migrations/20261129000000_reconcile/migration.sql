-- Reconcile passes (LatestVersion mode has no deletes in its change feed): one row per pass, with its counts.
-- CreateTable
CREATE TABLE "reconcile_passes" (
    "id" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "dryRun" BOOLEAN NOT NULL DEFAULT true,
    "scanned" BIGINT NOT NULL DEFAULT 0,
    "candidates" BIGINT NOT NULL DEFAULT 0,
    "confirmed" BIGINT NOT NULL DEFAULT 0,
    "removed" BIGINT NOT NULL DEFAULT 0,
    "keptRecreated" BIGINT NOT NULL DEFAULT 0,
    "keptChanged" BIGINT NOT NULL DEFAULT 0,
    "requestUnits" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "throttled" BIGINT NOT NULL DEFAULT 0,
    "error" TEXT,
    "startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "reconcile_passes_pkey" PRIMARY KEY ("id")
);

-- Every row a reconcile pass removed, as it was, so a mistaken removal can be undone.
-- CreateTable
CREATE TABLE "reconciled_deletes" (
    "passId" TEXT NOT NULL,
    "table" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "pubkey" TEXT NOT NULL,
    "row" JSONB NOT NULL,
    "removedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "reconciled_deletes_pkey" PRIMARY KEY ("passId","table","id")
);

-- CreateIndex
CREATE INDEX "reconcile_passes_startedAt_idx" ON "reconcile_passes"("startedAt");

-- CreateIndex
CREATE INDEX "reconciled_deletes_pubkey_id_idx" ON "reconciled_deletes"("pubkey", "id");
