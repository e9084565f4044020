export { applyDocuments, type ApplyOptions, type ApplyResult } from './apply-documents.js';
export { checkpointAfter, type Checkpoint } from './checkpoints.js';
export { completeRun, completeRunIfDone } from './complete-run.js';
export { DataMigrationUtility } from './data-migration-utility.js';
export { defaultOverlapSeconds, migrateIncremental, type IncrementalOptions } from './incremental.js';
export {
  applyPage,
  CheckpointMovedError,
  migratePage,
  stepPosition,
  type PageStep,
  type PageStepResult,
  type PageTarget,
  type StepPosition,
} from './migrate-page.js';
export { allParts, migrateAll, migrateType } from './migrate-type.js';
export { migrateUser, migrateUserDocuments } from './migrate-user.js';
export { assertMayMigrate, MigrationModeDisabledError } from './migration-mode.js';
export { quarantineKey, type QuarantineSource } from './quarantine.js';
export {
  defaultBatchSize,
  MigrationRunNotFoundError,
  resumeRun,
  type MigrationContext,
  type MigrationOptions,
  type MigrationProgress,
} from './run-migration.js';
export type { RunKind, RunPart, RunState } from './runs.js';
export { loadWatermarks, watermarkName, type Watermarks } from './watermarks.js';
