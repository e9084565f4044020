export { MigrationModeDisabledError, MigrationRunNotFoundError } from '../core/errors.js';
export { defaultBatchSize } from '../domain/batch-size.js';
export { type ApplyOptions, type ApplyResult, applyDocuments } from '../write-path/apply-documents.js';
export { type QuarantineSource, quarantineKey } from '../write-path/quarantine.js';
export { type Checkpoint, checkpointAfter } from './checkpoints.js';
export { completeRun, completeRunIfDone } from './complete-run.js';
export { defaultOverlapSeconds, type IncrementalOptions, migrateIncremental } from './incremental.js';
export {
  applyPage,
  CheckpointMovedError,
  migratePage,
  type PageStep,
  type PageStepResult,
  type PageTarget,
  type StepPosition,
  stepPosition,
} from './migrate-page.js';
export { allParts, migrateAll, migrateType } from './migrate-type.js';
export { migrateUser, migrateUserDocuments } from './migrate-user.js';
export { assertMayMigrate } from './migration-mode.js';
export { type MigrationOptions, type MigrationProgress, resumeRun } from './run-migration.js';
export type { RunKind, RunPart, RunState } from './runs.js';
export { loadWatermarks, type Watermarks, watermarkName } from './watermarks.js';
