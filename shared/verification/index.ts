export { canonicalJson, documentHash } from './canonical-json.js';
export { diffDocuments, REDACTED, type FieldDifference } from './document-diff.js';
export { formatFullVerificationReport, formatVerificationReport } from './format-verification-report.js';
export type { VerificationContext } from './verification-context.js';
export {
  verifyAll,
  type Finding,
  type FullVerificationReport,
  type ListedDocument,
  type RepairSummary,
  type TypeVerification,
  type VerifyAllOptions,
  type VerifyAllProgress,
} from './verify-all.js';
export {
  verifyAccountMigration,
  verifyUser,
  type DifferenceKind,
  type DocumentDifference,
  type UserVerificationReport,
} from './verify-user.js';
