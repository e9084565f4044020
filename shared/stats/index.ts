export {
  countCosmosDocuments,
  countPostgresRows,
  countQuarantinedDocuments,
  otherType,
  type QuarantineCounts,
  type QuarantineTally,
} from './document-counts.js';
export { formatStatsForHumans } from './format-stats.js';
export { getMigrationStats, type LastRun, type MigrationStats, type PendingWrites, progressPercent } from './migration-stats.js';
export { formatAge, formatCount, typeLabels } from './type-labels.js';
