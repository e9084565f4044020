import { z } from 'zod';

/**
 * Which database is primary: the one value every process (the service's RepositoryFactory, the functions and
 * the CLI) routes its writes by. In order of a migration:
 *
 *   cosmos                   Cosmos only (before the migration; the guide's USE_POSTGRESQL=false, DUAL=false)
 *   cosmos-primary           Cosmos primary; the change-feed sync keeps PostgreSQL current (false, true)
 *   switching-to-postgresql  writes wait while the switch drains the change feed into PostgreSQL
 *   postgresql-primary       PostgreSQL primary; every write mirrored to Cosmos (true, true)
 *   switching-to-cosmos      writes wait while the switch drains the mirror's backlog into Cosmos
 *   postgresql               PostgreSQL only (true, false)
 *
 * `migrate:switch` moves between them (docs/architecture.md, "The switch").
 */
export const phases = [
  'cosmos',
  'cosmos-primary',
  'switching-to-postgresql',
  'postgresql-primary',
  'switching-to-cosmos',
  'postgresql',
] as const;

export const phaseSchema = z.enum(phases);
export type Phase = z.infer<typeof phaseSchema>;

/** A phase in which writes are served (not a switch in progress). */
export const steadyPhaseSchema = phaseSchema.exclude(['switching-to-postgresql', 'switching-to-cosmos']);
export type SteadyPhase = z.infer<typeof steadyPhaseSchema>;

/** Where a switch may be asked to go. */
export const switchTargets = ['postgresql', 'cosmos', 'postgresql-only'] as const;
export const switchTargetSchema = z.enum(switchTargets);
export type SwitchTarget = z.infer<typeof switchTargetSchema>;

export type Database = 'cosmos' | 'postgresql';

/**
 * How long a process trusts a phase it read, from the moment the read began. The same for every process, so a
 * switch that waits this long after setting its fence knows that every process has seen the fence.
 */
export const phaseTrustMs = 1000;

export function isSteady(phase: Phase): phase is SteadyPhase {
  return phase !== 'switching-to-postgresql' && phase !== 'switching-to-cosmos';
}

/** The database a steady phase reads from and writes to first. */
export function primaryOf(phase: SteadyPhase): Database {
  return phase === 'cosmos' || phase === 'cosmos-primary' ? 'cosmos' : 'postgresql';
}

/** Whether a steady phase copies every PostgreSQL write to Cosmos (the mirror). */
export function mirrorsToCosmos(phase: SteadyPhase): boolean {
  return phase === 'postgresql-primary';
}

/** The phase the guide's two settings describe, for a deployment that has never run a switch. */
export function phaseOfFlags(usePostgres: boolean, dualDatabaseMode: boolean): SteadyPhase {
  if (usePostgres) return dualDatabaseMode ? 'postgresql-primary' : 'postgresql';
  return dualDatabaseMode ? 'cosmos-primary' : 'cosmos';
}

/** The settings that describe a steady phase, so a process that cannot read the phase falls back to the same. */
export function flagsOfPhase(phase: SteadyPhase): { USE_POSTGRESQL: boolean; DUAL_DATABASE_MODE: boolean } {
  return {
    USE_POSTGRESQL: primaryOf(phase) === 'postgresql',
    DUAL_DATABASE_MODE: phase === 'cosmos-primary' || phase === 'postgresql-primary',
  };
}

/** The switching phase on the way to `target`, or undefined when the move needs no fence. */
export function switchingPhaseFor(target: SwitchTarget): Phase | undefined {
  if (target === 'postgresql') return 'switching-to-postgresql';
  if (target === 'cosmos') return 'switching-to-cosmos';
  return undefined;
}

/** The steady phase a switch to `target` ends in. */
export function phaseAfter(target: SwitchTarget): SteadyPhase {
  if (target === 'postgresql') return 'postgresql-primary';
  if (target === 'cosmos') return 'cosmos-primary';
  return 'postgresql';
}
