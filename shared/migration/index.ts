export { MigrationModeDisabledError, MigrationRunNotFoundError } from '../core/errors.js';
export { defaultBatchSize } from '../domain/batch-size.js';
export { type ApplyOptions, type ApplyResult, applyDocuments } from '../write-path/apply-documents.js';
export { type QuarantineSource, quarantineKey } from '../write-path/quarantine.js';
export {
  advancePosition,
  type ChangeFeedPosition,
  clearPositions,
  defaultConsumer,
  loadPosition,
  loadPositions,
} from './change-feed-positions.js';
export { type Checkpoint, checkpointAfter } from './checkpoints.js';
export { completeRun, completeRunIfDone } from './complete-run.js';
export { type IncrementalOptions, migrateIncremental } from './incremental.js';
export { fullLoadScope, migrateAll, migrateType } from './migrate-type.js';
export { migrateUser, migrateUserDocuments } from './migrate-user.js';
export { assertMayMigrate } from './migration-mode.js';
export {
  CheckpointMovedError,
  commitPage,
  type PageStep,
  type PageStepResult,
  type PageTarget,
  pageStep,
  type StepPosition,
  stepPosition,
} from './page-step.js';
export { type PartPage, type PartReader, partReader } from './part-reader.js';
export { type ReadSettings, readBudgetName, readSettingsOf, sharedReadBudget } from './read-budget.js';
export { type MigrationOptions, type MigrationProgress, resumeRun, runEndRecorded } from './run-migration.js';
export { abandonedAfterMs, isAbandoned, type RunKind, type RunPart, type RunReader, type RunState } from './runs.js';
