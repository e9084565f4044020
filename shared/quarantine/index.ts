export {
  otherTypeFilter,
  type QuarantineFilter,
  type QuarantineStatus,
  quarantineStatuses,
  type StoredQuarantineEntry,
} from '../postgres/quarantine-store.js';
export { type ListedQuarantineEntry, listQuarantine, maxListLimit, type QuarantineListing } from './list-quarantine.js';
export { type QuarantineBlockers, quarantineBlockers } from './quarantine-blockers.js';
export { defaultListLimit, filterOf, type QuarantineQuery, quarantineQuerySchema } from './quarantine-query.js';
export { maxNoteLength, type QuarantineResolution, resolveQuarantine } from './resolve-quarantine.js';
export {
  type QuarantineRetry,
  type QuarantineSelection,
  type RetriedEntry,
  type RetryOptions,
  type RetryOutcome,
  retryQuarantine,
} from './retry-quarantine.js';
export { type QuarantineEntryView, type RowInQuestion, showQuarantineEntry } from './show-quarantine.js';
export { isDifference, isMappingFailure, type Standing, standingOf } from './standing.js';
export { type QuarantineSweep, type SweepOptions, sweepQuarantine } from './sweep-quarantine.js';
