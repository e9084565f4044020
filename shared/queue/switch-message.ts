import type { AppContext } from '../context/app-context.js';
import { assertMayMigrate } from '../migration/migration-mode.js';
import type { SwitchMessage } from '../storage-queue/messages.js';
import { runSwitch, type SwitchResult } from '../switch/run-switch.js';

/**
 * A `switch` message: the switch run by the queue function (`POST /api/migration/switch` sends one). A redelivered
 * message runs it again, which finishes or undoes whatever a killed delivery left (see `runSwitch`). A refused
 * switch (a readiness check failed) is an answer, not a failure: it is logged with its checks, not retried.
 */
export async function switchFromMessage(services: AppContext, message: SwitchMessage): Promise<SwitchResult> {
  assertMayMigrate(services.config, false);
  return runSwitch(services, {
    target: message.to,
    ...(message.maxPauseSeconds === undefined ? {} : { maxPauseMs: Math.round(message.maxPauseSeconds * 1000) }),
    ...(message.maxLagSeconds === undefined ? {} : { maxLagSeconds: message.maxLagSeconds }),
    requestedBy: message.requestedBy ?? 'queue',
  });
}
