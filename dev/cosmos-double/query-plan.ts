import type { PartitionKeyDefinition, PrimitivePartitionKeyValue } from '@azure/cosmos';
import { compileQuery, namedItems, type QueryParameter } from './query-engine.js';
import { parseSql, printExpression, QueryError, type SqlExpression, type SqlQuery } from './sql-ast.js';

/**
 * The gateway's query plan (`POST …/docs` with `x-ms-cosmos-is-query-plan-request: True`), which
 * the SDK fetches for every cross-partition query: what to merge on the client (TOP, ORDER BY,
 * aggregates) and which EPK ranges to visit. Cross-partition ORDER BY and aggregates come back
 * rewritten, in the form Cosmos uses, so that each partition returns what the SDK's merge expects:
 * `{ _rid, orderByItems: [{ item }], payload }` rows, or one `[{ item }]` partial aggregate.
 * ("Query an Azure Cosmos DB container", learn.microsoft.com/azure/cosmos-db/nosql/how-to-query-container;
 * the shapes are those the SDK parses in its queryExecutionContext/.)
 */

export interface QueryRange {
  min: string;
  max: string;
  isMinInclusive: boolean;
  isMaxInclusive: boolean;
}

export interface QueryPlan {
  partitionedQueryExecutionInfoVersion: number;
  queryInfo: {
    distinctType: 'None';
    top: number | null;
    offset: null;
    limit: null;
    orderBy: ('Ascending' | 'Descending')[];
    orderByExpressions: string[];
    groupByExpressions: [];
    groupByAliases: [];
    aggregates: string[];
    groupByAliasToAggregateType: Record<string, never>;
    rewrittenQuery: string;
    hasSelectValue: boolean;
    dCountInfo: null;
    hasNonStreamingOrderBy: false;
  };
  queryRanges: QueryRange[];
}

/** The placeholder the SDK replaces with `true`, or with a resume filter after a split. */
const orderByFilter = '{documentdb-formattableorderbyquery-filter}';

const aggregateNames: Record<string, string> = { COUNT: 'Count', SUM: 'Sum', MIN: 'Min', MAX: 'Max', AVG: 'Average' };

export function buildQueryPlan(
  text: string,
  parameters: readonly QueryParameter[],
  partitionKey: PartitionKeyDefinition,
  epkOf: (value: PrimitivePartitionKeyValue[]) => string,
): QueryPlan {
  const compiled = compileQuery(text, parameters); // refuses what the partitions could not run
  const query = parseSql(text);
  const aggregates = selectedAggregates(query);
  let rewrittenQuery = '';
  if (query.orderBy.length > 0) rewrittenQuery = rewriteOrderBy(query, compiled.top);
  else if (aggregates.length > 0 && query.select.kind === 'value') rewrittenQuery = rewriteAggregate(query);
  return {
    partitionedQueryExecutionInfoVersion: 2,
    queryInfo: {
      distinctType: 'None',
      top: compiled.top ?? null,
      offset: null,
      limit: null,
      orderBy: query.orderBy.map(({ descending }) => (descending ? 'Descending' : 'Ascending')),
      orderByExpressions: query.orderBy.map(({ expression }) => printExpression(expression)),
      groupByExpressions: [],
      groupByAliases: [],
      aggregates,
      groupByAliasToAggregateType: {},
      rewrittenQuery,
      hasSelectValue: query.select.kind === 'value',
      dCountInfo: null,
      hasNonStreamingOrderBy: false,
    },
    queryRanges: [
      pointRangeOf(query, parameters, partitionKey, epkOf) ?? { min: '', max: 'FF', isMinInclusive: true, isMaxInclusive: false },
    ],
  };
}

function selectedAggregates(query: SqlQuery): string[] {
  const found: string[] = [];
  const visit = (node: SqlExpression): void => {
    const aggregate = node.kind === 'call' ? aggregateNames[node.name] : undefined;
    if (aggregate) found.push(aggregate);
    for (const child of childrenOf(node)) visit(child);
  };
  const { select } = query;
  if (select.kind === 'value') {
    visit(select.expression);
    if (found.length > 0 && !(select.expression.kind === 'call' && aggregateNames[select.expression.name])) {
      throw new QueryError('Cross-partition aggregates must be SELECT VALUE <aggregate>(…) in the Cosmos double');
    }
  } else if (select.kind === 'list') {
    for (const { expression } of select.items) visit(expression);
  }
  return found;
}

function childrenOf(node: SqlExpression): SqlExpression[] {
  switch (node.kind) {
    case 'array':
      return node.elements;
    case 'object':
      return node.properties.map(({ value }) => value);
    case 'member':
      return typeof node.property === 'string' ? [node.object] : [node.object, node.property];
    case 'call':
      return node.args;
    case 'unary':
      return [node.argument];
    case 'binary':
      return [node.left, node.right];
    case 'in':
      return [node.value, ...node.list];
    case 'between':
      return [node.value, node.low, node.high];
    case 'conditional':
      return [node.test, node.then, node.otherwise];
    default:
      return [];
  }
}

function fromClause(query: SqlQuery): string {
  const { collection, alias } = query.from;
  return collection === alias ? collection : `${collection} ${alias}`;
}

function rewriteOrderBy(query: SqlQuery, top: number | undefined): string {
  const { alias } = query.from;
  const items = query.orderBy.map(({ expression }) => `{"item": ${printExpression(expression)}}`).join(', ');
  const { select } = query;
  let payload = alias;
  if (select.kind === 'value') payload = printExpression(select.expression);
  else if (select.kind === 'list') {
    payload = `{${namedItems(select.items)
      .map(({ name, expression }) => `${JSON.stringify(name)}: ${printExpression(expression)}`)
      .join(', ')}}`;
  }
  const where = query.where ? `((${printExpression(query.where)}) AND (${orderByFilter}))` : `(${orderByFilter})`;
  const sort = query.orderBy.map(({ expression, descending }) => `${printExpression(expression)} ${descending ? 'DESC' : 'ASC'}`);
  const topClause = top === undefined ? '' : `TOP ${top} `;
  return (
    `SELECT ${topClause}${alias}._rid, [${items}] AS orderByItems, ${payload} AS payload FROM ` +
    `${fromClause(query)} WHERE ${where} ORDER BY ${sort.join(', ')}`
  );
}

/** Partial aggregates each partition returns, in the shapes the SDK's aggregators add up. */
function rewriteAggregate(query: SqlQuery): string {
  const call = (query.select as { expression: Extract<SqlExpression, { kind: 'call' }> }).expression;
  const [argumentNode] = call.args;
  if (!argumentNode) throw new QueryError(`${call.name} takes one argument`);
  const argument = printExpression(argumentNode);
  const partials: Record<string, string> = {
    COUNT: `COUNT(${argument})`,
    SUM: `SUM(${argument})`,
    MIN: `{"min": MIN(${argument}), "count": COUNT(${argument})}`,
    MAX: `{"max": MAX(${argument}), "count": COUNT(${argument})}`,
    AVG: `{"sum": SUM(${argument}), "count": COUNT(${argument})}`,
  };
  const partial = partials[call.name];
  if (!partial) throw new QueryError(`${call.name} is not an aggregate`);
  const where = query.where ? ` WHERE ${printExpression(query.where)}` : '';
  return `SELECT VALUE [{"item": ${partial}}] FROM ${fromClause(query)}${where}`;
}

/**
 * A query whose WHERE pins the partition key (`c.pubkey = "…"` as one of its top-level AND terms)
 * targets one logical partition, so the plan names only that EPK, as the gateway's plan does.
 */
function pointRangeOf(
  query: SqlQuery,
  parameters: readonly QueryParameter[],
  partitionKey: PartitionKeyDefinition,
  epkOf: (value: PrimitivePartitionKeyValue[]) => string,
): QueryRange | undefined {
  const [path, ...others] = partitionKey.paths;
  if (!path || others.length > 0 || !query.where) return undefined;
  const segments = path.split('/').filter(Boolean);
  const isKeyPath = (node: SqlExpression): boolean => {
    let current = node;
    for (let index = segments.length - 1; index >= 0; index -= 1) {
      if (current.kind !== 'member' || current.property !== segments[index]) return false;
      current = current.object;
    }
    return current.kind === 'identifier' && current.name === query.from.alias;
  };
  const valueOf = (node: SqlExpression): unknown => {
    if (node.kind === 'constant') return node.value;
    if (node.kind === 'parameter') return parameters.find(({ name }) => name === node.name)?.value;
    return undefined;
  };
  const terms: SqlExpression[] = [];
  const collect = (node: SqlExpression): void => {
    if (node.kind === 'binary' && node.operator === 'AND') {
      collect(node.left);
      collect(node.right);
    } else terms.push(node);
  };
  collect(query.where);
  for (const term of terms) {
    if (term.kind !== 'binary' || term.operator !== '=') continue;
    const value = isKeyPath(term.left) ? valueOf(term.right) : isKeyPath(term.right) ? valueOf(term.left) : undefined;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) {
      const epk = epkOf([value]);
      return { min: epk, max: epk, isMinInclusive: true, isMaxInclusive: true };
    }
  }
  return undefined;
}
