export { countCosmosDocuments, countPostgresRows, countQuarantinedByType, otherType, type QuarantineCounts } from './document-counts.js';
export { formatStatsForHumans } from './format-stats.js';
export { getMigrationStats, type LastRun, type MigrationStats, progressPercent } from './migration-stats.js';
export { formatCount, typeLabels } from './type-labels.js';
