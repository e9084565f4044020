export { canonicalJson, documentHash } from '../domain/document-hash.js';
export { diffDocuments, type FieldDifference, REDACTED } from './document-diff.js';
export { formatFullVerificationReport, formatVerificationReport } from './format-verification-report.js';
export {
  type Finding,
  type FullVerificationReport,
  type ListedDocument,
  type ListedOtherDocument,
  type OtherTypesVerification,
  type RepairSummary,
  type TypeVerification,
  type VerificationRangeDone,
  type VerificationReads,
  type VerifyAllOptions,
  type VerifyAllProgress,
  verifyAll,
} from './verify-all.js';
export {
  type DifferenceKind,
  type DocumentDifference,
  type UserVerificationReport,
  verifyAccountMigration,
  verifyUser,
} from './verify-user.js';
