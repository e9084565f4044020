/**
 * Request charges (`x-ms-request-charge`), in request units, after "Request Units in Azure Cosmos DB"
 * (learn.microsoft.com/azure/cosmos-db/request-units): a point read of a 1 KB item costs 1 RU and
 * grows with the item's size; writes cost several times a read; a query or change feed page costs a
 * base amount plus what it examined and returned. The figures are a model of those magnitudes, not
 * the service's exact billing: what tests can rely on is that every response carries a charge, and
 * that more work costs more.
 */

const kilobytes = (bytes: number): number => bytes / 1024;

const round = (charge: number): number => Math.round(charge * 100) / 100;

/** Account, database, container and partition key range reads. */
export const metadataCharge = 1;

/** The gateway computes query plans itself; no partition is charged. */
export const queryPlanCharge = 0;

/** A throttled request does no work. */
export const throttledCharge = 0;

export function pointReadCharge(bytes: number): number {
  return Math.max(1, Math.ceil(kilobytes(bytes)));
}

/** Create, replace, upsert and delete: about 5.5 RU per started KB with the default indexing policy. */
export function writeCharge(bytes: number): number {
  return round(5.5 * Math.max(1, Math.ceil(kilobytes(bytes))));
}

/** A query page: 2.5 RU, plus 0.025 RU per document examined, plus 1 RU per KB returned. */
export function queryCharge(examined: number, bytes: number): number {
  return round(2.5 + 0.025 * examined + kilobytes(bytes));
}

/** A change feed page: 1 RU (what a 304 costs), plus 0.01 RU per change examined, plus 1 RU per KB returned. */
export function changeFeedCharge(examined: number, bytes: number): number {
  return round(1 + 0.01 * examined + kilobytes(bytes));
}
