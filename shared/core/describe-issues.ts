import type { z } from 'zod';

/** One problem zod found: where (`path`, or the stand-in for the value as a whole) and what was expected. */
export interface Issue {
  path: string;
  message: string;
}

/**
 * The problems zod found, one per issue, the way every validation error here is reported (configuration,
 * documents, queue messages, request bodies). `whole` stands for the path of a problem with the value as
 * a whole. zod's messages say what was expected, never the value received.
 */
export function issuesOf(error: z.ZodError, whole: string): Issue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || whole, message: issue.message }));
}

/** {@link issuesOf} as `path: message` lines. */
export function describeIssues(error: z.ZodError, whole: string): string[] {
  return issuesOf(error, whole).map(({ path, message }) => `${path}: ${message}`);
}
