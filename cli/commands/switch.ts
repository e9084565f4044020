import { userInfo } from 'node:os';
import { InvalidInputError, MigrationModeDisabledError, SwitchRefusedError } from '../../shared/core/errors.js';
import { flagsOfPhase, type SteadyPhase, type SwitchTarget, switchTargets } from '../../shared/domain/phase.js';
import type { ReadinessReport } from '../../shared/switch/readiness.js';
import type { SwitchResult, SwitchStepEvent } from '../../shared/switch/run-switch.js';
import { defineCommand } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { flag, positiveNumber, sharedOptions, valued, wholeNumber } from '../core/options.js';
import { databaseSettings } from '../core/settings.js';

const stepLines: Record<string, string> = {
  'catch-up': 'Catching up: applying the change feed up to now (writes go on)...',
  checks: 'Readiness checked.',
  fenced: 'Fence set: every write now waits.',
  settled: 'Every process has seen the fence; writes under way have landed.',
  drained: 'Drained up to the fence.',
  flipped: 'Flipped: writes go to the new primary.',
  released: 'Fence given back: writes go on where they went before.',
};

export const switchCommand = defineCommand({
  script: 'migrate:switch',
  entry: 'cli/migrate.ts switch',
  summary: 'make PostgreSQL (or Cosmos DB again) the primary database, safely, under live traffic',
  description: [
    "Moves the primary database for every process at once: the service's RepositoryFactory, the functions and the",
    'CLI all read the phase from PostgreSQL (switch_state) at most a second old. --to postgresql: catch up on the',
    'change feed, check readiness, hold every write (the fence), wait until every process has seen it, apply the',
    "change feed up to the fence, flip, release. --to cosmos: the same, draining the mirror's backlog",
    '(pending_sync, rows not yet in Cosmos) into Cosmos instead. --to postgresql-only: end the mirror (no way back',
    'to Cosmos afterwards). With --check it only reports the readiness checks, each with its figure and what to do.',
    'Every step is recorded (switches, switch_steps). Killed at any step, run it again: it finishes the switch or',
    'undoes it; a fence is never held longer than --max-pause, after which every process goes back by itself.',
  ].join('\n'),
  options: {
    to: valued('<postgresql|cosmos|postgresql-only>', 'Where to switch (required).', (text, name): SwitchTarget => {
      const target = switchTargets.find((candidate) => candidate === text.trim().toLowerCase());
      if (!target) throw new InvalidInputError(name, `expected one of ${switchTargets.join(', ')}, got ${JSON.stringify(text)}`);
      return target;
    }),
    check: flag('Only run and print the readiness checks; change nothing (exit 1 if one fails).'),
    maxLag: valued(
      '<seconds>',
      'The oldest change PostgreSQL may not have applied yet, per feed range (default 30).',
      wholeNumber(0, 86_400),
    ),
    maxPause: valued(
      '<seconds>',
      'The longest writes may be held (default 30); past it every process falls back and the switch gives up.',
      positiveNumber('seconds'),
    ),
    maxReconcileAge: valued(
      '<hours>',
      'How old the last applied reconcile pass may be (LatestVersion mode, --to postgresql; default 24).',
      positiveNumber('hours'),
    ),
    json: sharedOptions.json,
  },
  settings: [
    ...databaseSettings,
    ['MIGRATION_MODE', 'must be true to switch (it writes to both databases); --check needs nothing'],
    'COSMOSDB_CHANGE_FEED_MODE',
    ['USE_POSTGRESQL', 'the phase before the first switch; afterwards set it as the switch says, as the fallback'],
    ['DUAL_DATABASE_MODE', 'the same'],
  ],
  exitCodes: {
    ok: 'switched (or already there), or with --check every check passed',
    failed:
      'a readiness check failed (each is printed with what to do), the switch could not finish and gave the fence back, or settings are missing',
    interrupted: 'interrupted (Ctrl-C): a fence held is given back at once; run it again to switch',
  },
  prepare: ({ values }) => {
    const target = values.to;
    if (target === undefined) throw new InvalidInputError('--to', `missing; expected one of ${switchTargets.join(', ')}`);
    return async (io) => {
      const services = io.services();
      if (!values.check && !services.config.migrationMode) throw new MigrationModeDisabledError();
      const { runSwitch } = await import('../../shared/switch/run-switch.js');
      const onStep = (event: SwitchStepEvent) => {
        const line = event.step.startsWith('check:') ? `  checking ${event.step.slice('check:'.length)}...` : stepLines[event.step];
        if (line) io.log(event.step === 'flipped' && event.detail ? `${line} (writes held ${String(event.detail.pauseMs)} ms)` : line);
      };
      try {
        const result = await runSwitch(services, {
          target,
          checkOnly: values.check,
          ...(values.maxLag === undefined ? {} : { maxLagSeconds: values.maxLag }),
          ...(values.maxPause === undefined ? {} : { maxPauseMs: Math.round(values.maxPause * 1000) }),
          ...(values.maxReconcileAge === undefined ? {} : { maxReconcileAgeHours: values.maxReconcileAge }),
          requestedBy: userInfo().username,
          onStep,
          signal: io.signal,
        });
        io.result(io.json ? JSON.stringify(result, null, 2) : describeResult(result, target));
        return result.outcome === 'refused' || (result.readiness && !result.readiness.ready) ? ExitCode.failed : ExitCode.ok;
      } catch (error) {
        if (!(error instanceof SwitchRefusedError)) throw error;
        io.result(io.json ? JSON.stringify({ outcome: 'refused', reason: error.message }, null, 2) : `Switch refused: ${error.message}`);
        return ExitCode.failed;
      }
    };
  },
});

function describeChecks(readiness: ReadinessReport): string {
  return [
    'Readiness:',
    ...readiness.checks.flatMap((check) => [
      `  ${check.passed ? 'PASS' : 'FAIL'}  ${check.name.padEnd(17)} ${check.figure}`,
      ...(check.passed || !check.advice ? [] : [`        what to do: ${check.advice}`]),
    ]),
  ].join('\n');
}

function describeResult(result: SwitchResult, target: SwitchTarget): string {
  const lines: string[] = [];
  if (result.settledEarlier.length > 0)
    lines.push(`Settled ${result.settledEarlier.length} earlier switch(es) that had stopped: ${result.settledEarlier.join(', ')}`);
  if (result.readiness) lines.push(describeChecks(result.readiness), '');
  if (result.outcome === 'checked' || result.outcome === 'refused') {
    lines.push(
      result.readiness?.ready
        ? `Ready to switch to ${target}.`
        : `${result.outcome === 'refused' ? 'Switch refused' : 'Not ready'}: fix the checks marked FAIL, then run it again. Nothing was changed.`,
    );
    return lines.join('\n');
  }
  if (result.outcome === 'already') lines.push(`Already there: the phase is ${result.phaseAfter}.`);
  else {
    lines.push(
      `=== Switched: ${result.phaseBefore} -> ${result.phaseAfter} ===`,
      `  Switch:       ${result.switchId ?? ''}`,
      `  Writes held:  ${result.pauseMs ?? 0} ms`,
      ...(result.drained ? [`  Drained:      ${JSON.stringify(result.drained)}`] : []),
    );
  }
  const flags = flagsOfPhase(result.phaseAfter as SteadyPhase);
  lines.push(
    '',
    `Set USE_POSTGRESQL=${flags.USE_POSTGRESQL} and DUAL_DATABASE_MODE=${flags.DUAL_DATABASE_MODE} in every app's settings: the phase`,
    'decides while PostgreSQL answers, and a process that cannot read it falls back to those settings.',
  );
  return lines.join('\n');
}
