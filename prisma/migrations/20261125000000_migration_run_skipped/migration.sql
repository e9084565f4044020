-- AlterTable
ALTER TABLE "migration_runs" ADD COLUMN     "skipped" BIGINT NOT NULL DEFAULT 0;
