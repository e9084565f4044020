/** See check-change-feed-prerequisites.mjs: what stands in the way of running the sync in `mode` on an account with that backup policy. */
export function changeFeedPrerequisiteProblems(account: { mode: string; backupPolicyType: string | undefined }): string[];
/** See check-change-feed-prerequisites.mjs: AllVersionsAndDeletes refused until the Preview extension bundle is accepted after a trial. */
export function previewBundleProblems(settings: { mode: string; accepted: string | undefined }): string[];
