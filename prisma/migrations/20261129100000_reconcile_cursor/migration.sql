-- Where a reconcile pass stands, so a queue chain (a few pages per message) can continue it and a redelivered
-- step can tell it was taken: "cursor" is the walk position after the last committed page (JSON [id, table];
-- NULL at the start), "step" the chain's step in progress (each message of the chain does one).
-- AlterTable
ALTER TABLE "reconcile_passes" ADD COLUMN "cursor" TEXT,
ADD COLUMN "step" INTEGER NOT NULL DEFAULT 0;
