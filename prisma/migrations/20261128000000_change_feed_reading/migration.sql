-- Checkpoints are kept per part: a feed range of the change feed, a document type, or one user's partition.
ALTER TABLE "migration_checkpoints" RENAME COLUMN "documentType" TO "part";

-- AlterTable
ALTER TABLE "migration_runs" ADD COLUMN     "requestUnits" DOUBLE PRECISION NOT NULL DEFAULT 0,
ADD COLUMN     "throttled" BIGINT NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "change_feed_positions" (
    "consumer" TEXT NOT NULL,
    "rangeKey" TEXT NOT NULL,
    "continuation" TEXT NOT NULL,
    "mode" TEXT NOT NULL,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "change_feed_positions_pkey" PRIMARY KEY ("consumer","rangeKey")
);

-- CreateTable
CREATE TABLE "request_unit_budgets" (
    "name" TEXT NOT NULL,
    "tokens" DOUBLE PRECISION NOT NULL,
    "refilledAt" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "request_unit_budgets_pkey" PRIMARY KEY ("name")
);

-- The incremental migration's _ts watermarks are replaced by the change-feed positions above.
DELETE FROM "sync_state" WHERE "name" = 'migration.watermarks';
