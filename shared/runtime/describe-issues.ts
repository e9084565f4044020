import type { z } from 'zod';

/**
 * One `path: message` line per problem zod found, the way every validation error here is reported
 * (configuration, documents, queue messages, request bodies). `whole` stands for the path of a problem
 * with the value as a whole. zod's messages say what was expected, never the value received.
 */
export function describeIssues(error: z.ZodError, whole: string): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || whole}: ${issue.message}`);
}
