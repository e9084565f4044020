import type { AppContext } from '../context/app-context.js';
import { type Clock, systemClock } from '../core/clock.js';
import { burstSeconds, type ReadBudget, RequestUnitBudget } from '../cosmos/throttling.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { takeRequestUnits } from '../postgres/request-unit-budgets.js';

/**
 * The request-unit budget of Cosmos reads (MIGRATION_MAX_RU_PER_SECOND, or `--max-ru` for one process):
 * ONE bucket in PostgreSQL shared by every chain and every process reading under it (the full load's
 * ranges, the queue's page messages on every Function instance, the sync runner), so the total stays
 * within it however the work is spread. Each process takes small grants from the bucket and books every
 * response's real charge against them (`RequestUnitBudget`).
 */

/** The bucket every read path shares. */
export const readBudgetName = 'cosmos-reads';

/** One budget object per database and rate in this process: its chains wait for one grant, not one each. */
const budgets = new WeakMap<PrismaClient, Map<number, RequestUnitBudget>>();

/** The process's share of the shared read budget at `perSecond`. */
export function sharedReadBudget(prisma: PrismaClient, perSecond: number, clock: Clock = systemClock): ReadBudget {
  let byRate = budgets.get(prisma);
  if (!byRate) budgets.set(prisma, (byRate = new Map<number, RequestUnitBudget>()));
  let budget = byRate.get(perSecond);
  if (!budget) {
    const source = async (requested: number) =>
      takeRequestUnits(prisma, readBudgetName, { perSecond, capacity: perSecond * burstSeconds, requested });
    budget = new RequestUnitBudget(perSecond, source, clock);
    byRate.set(perSecond, budget);
  }
  return budget;
}

/** How the reads of a run or a runner are made: their budget (if any) and their priority. */
export interface ReadSettings {
  budget?: ReadBudget;
  priorityLevel?: 'Low' | 'High';
}

/** The read settings for `ctx`: `maxRequestUnitsPerSecond` when given, else MIGRATION_MAX_RU_PER_SECOND; COSMOSDB_PRIORITY_LEVEL. */
export function readSettingsOf(ctx: Pick<AppContext, 'config' | 'prisma'>, maxRequestUnitsPerSecond?: number): ReadSettings {
  const perSecond = maxRequestUnitsPerSecond ?? ctx.config.maxRequestUnitsPerSecond;
  return {
    ...(perSecond !== undefined ? { budget: sharedReadBudget(ctx.prisma, perSecond) } : {}),
    ...(ctx.config.cosmos?.priorityLevel ? { priorityLevel: ctx.config.cosmos.priorityLevel } : {}),
  };
}
