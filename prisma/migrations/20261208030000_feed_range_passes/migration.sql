-- Verification and reconcile per feed range: each range's change feed is read into pass_seen_keys, then the
-- range's PostgreSQL rows (selected through partition_key_hashes) are matched against it. The pass's single walk
-- position and chain step move to its ranges.
-- AlterTable
ALTER TABLE "reconcile_passes" DROP COLUMN "cursor",
DROP COLUMN "step",
ADD COLUMN "documents" BIGINT NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "pass_ranges" (
    "id" UUID NOT NULL,
    "passId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "rangeKey" TEXT NOT NULL,
    "phase" TEXT NOT NULL DEFAULT 'reading',
    "continuation" TEXT,
    "cursor" TEXT,
    "step" INTEGER NOT NULL DEFAULT 0,
    "documents" BIGINT NOT NULL DEFAULT 0,
    "scanned" BIGINT NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pass_ranges_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pass_seen_keys" (
    "rangeId" UUID NOT NULL,
    "key" UUID NOT NULL,

    CONSTRAINT "pass_seen_keys_pkey" PRIMARY KEY ("rangeId","key")
);

-- CreateTable
CREATE TABLE "partition_key_hashes" (
    "scheme" TEXT NOT NULL,
    "pubkey" TEXT NOT NULL,
    "epk" BYTEA NOT NULL,

    CONSTRAINT "partition_key_hashes_pkey" PRIMARY KEY ("scheme","pubkey")
);

-- CreateIndex
CREATE INDEX "pass_ranges_updatedAt_idx" ON "pass_ranges"("updatedAt");

-- CreateIndex
CREATE UNIQUE INDEX "pass_ranges_passId_rangeKey_key" ON "pass_ranges"("passId", "rangeKey");

-- CreateIndex
CREATE INDEX "partition_key_hashes_scheme_epk_pubkey_idx" ON "partition_key_hashes"("scheme", "epk", "pubkey");
