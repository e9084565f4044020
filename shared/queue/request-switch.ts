import { z } from 'zod';
import type { AppContext } from '../context/app-context.js';
import { switchTargetSchema } from '../domain/phase.js';
import { assertMayMigrate } from '../migration/migration-mode.js';
import type { MigrationMessageInput } from '../storage-queue/messages.js';
import type { SentMessage } from '../storage-queue/send-messages.js';
import { checkReadiness, type ReadinessReport } from '../switch/readiness.js';

/** The body of `POST /api/migration/switch`. */
export const switchRequestSchema = z.strictObject({
  to: switchTargetSchema,
  /** Only run the readiness checks and answer them; change nothing. */
  check: z.boolean().default(false),
  maxPauseSeconds: z.number().positive().max(600).optional(),
  maxLagSeconds: z.number().int().min(0).max(86_400).optional(),
});

export type SwitchRequest = z.infer<typeof switchRequestSchema>;

export type SwitchRequestOutcome = { kind: 'checked'; readiness: ReadinessReport } | { kind: 'queued' };

/**
 * `check`: the readiness checks, answered now. Otherwise the switch is queued (a `switch` message: it runs on the
 * queue function, where a redelivery finishes or undoes a killed run), which needs MIGRATION_MODE=true.
 */
export async function requestSwitch(
  services: AppContext,
  request: SwitchRequest,
  enqueue: (messages: readonly MigrationMessageInput[]) => Promise<SentMessage[]>,
): Promise<SwitchRequestOutcome> {
  if (request.check) {
    const readiness = await checkReadiness(services, request.to, {
      ...(request.maxLagSeconds === undefined ? {} : { maxLagSeconds: request.maxLagSeconds }),
    });
    return { kind: 'checked', readiness };
  }
  assertMayMigrate(services.config, false);
  await enqueue([
    {
      kind: 'switch',
      to: request.to,
      ...(request.maxPauseSeconds === undefined ? {} : { maxPauseSeconds: request.maxPauseSeconds }),
      ...(request.maxLagSeconds === undefined ? {} : { maxLagSeconds: request.maxLagSeconds }),
      requestedBy: 'http',
    },
  ]);
  return { kind: 'queued' };
}
