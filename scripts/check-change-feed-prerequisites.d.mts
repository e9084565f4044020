/** See check-change-feed-prerequisites.mjs: what stands in the way of running the sync in `mode` on an account with that backup policy. */
export function changeFeedPrerequisiteProblems(account: { mode: string; backupPolicyType: string | undefined }): string[];
