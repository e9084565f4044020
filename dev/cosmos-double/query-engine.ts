import type { Change } from './change-feed-log.js';
import { parseSql, QueryError, type SqlExpression, type SqlQuery, type SqlSelect, type SqlSelectItem } from './sql-ast.js';
import { systemFunction } from './sql-functions.js';
import { and, compareForOperator, compareForSort, equals, not, or } from './sql-values.js';

/**
 * Runs one page of a query over one partition key range (or one logical partition), as a Cosmos
 * backend partition does for the gateway: `SELECT [TOP n] <list> | VALUE <expr> | * FROM <alias>
 * [WHERE …] [ORDER BY …]`, including the rewritten forms the gateway's query plan hands the SDK for
 * cross-partition ORDER BY (`c._rid, [{"item": …}] AS orderByItems, c AS payload`) and aggregates
 * (`SELECT VALUE [{"item": COUNT(1)}]`). JOIN, DISTINCT, GROUP BY, OFFSET/LIMIT, subqueries and
 * user-defined functions are refused with 400, never answered wrongly.
 */

export interface QueryParameter {
  name: string;
  value: unknown;
}

type Evaluate = (document: unknown) => unknown;

type AggregateKind = 'COUNT' | 'SUM' | 'MIN' | 'MAX' | 'AVG';

interface AggregateSlot {
  kind: AggregateKind;
  argument: Evaluate;
}

export interface CompiledQuery {
  readonly top: number | undefined;
  readonly filter: Evaluate | undefined;
  readonly orderBy: readonly { key: Evaluate; descending: boolean }[];
  /** Non-empty for an aggregate query: the select list is evaluated once, over these results. */
  readonly aggregates: readonly AggregateSlot[];
  /** SELECT * (or VALUE of the alias): rows are the stored documents, sent as stored. */
  readonly selectsDocument: boolean;
  readonly project: Evaluate;
  /** Filled with the aggregate results before `project` runs (the slots the select list reads). */
  readonly aggregateValues: unknown[];
}

const aggregateKinds = new Set<string>(['COUNT', 'SUM', 'MIN', 'MAX', 'AVG']);

interface CompileContext {
  alias: string;
  parameters: Map<string, unknown>;
  /** Where aggregate calls are allowed (the select list), they are collected here. */
  aggregates: AggregateSlot[] | undefined;
  aggregateValues: unknown[];
}

export function compileQuery(text: string, parameters: readonly QueryParameter[] = []): CompiledQuery {
  const query = parseSql(text);
  const context: CompileContext = {
    alias: query.from.alias,
    parameters: new Map(parameters.map(({ name, value }) => [name, value])),
    aggregates: undefined,
    aggregateValues: [],
  };
  const filter = query.where ? compileExpression(query.where, context) : undefined;
  const orderBy = query.orderBy.map(({ expression, descending }) => ({ key: compileExpression(expression, context), descending }));
  const aggregates: AggregateSlot[] = [];
  context.aggregates = aggregates;
  const { project, selectsDocument } = compileSelect(query.select, context);
  if (aggregates.length > 0 && orderBy.length > 0) throw new QueryError('ORDER BY with aggregates is not supported');
  return {
    top: topOf(query, context),
    filter,
    orderBy,
    aggregates,
    selectsDocument,
    project,
    aggregateValues: context.aggregateValues,
  };
}

function topOf(query: SqlQuery, context: { parameters: Map<string, unknown> }): number | undefined {
  if (!query.top) return undefined;
  const value =
    query.top.kind === 'parameter' ? parameterValue(query.top.name, context) : query.top.kind === 'constant' ? query.top.value : undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new QueryError('TOP expects a non-negative integer');
  return value;
}

function compileSelect(select: SqlSelect, context: CompileContext): { project: Evaluate; selectsDocument: boolean } {
  if (select.kind === 'star') return { project: (document) => document, selectsDocument: true };
  if (select.kind === 'value') {
    const isAlias = select.expression.kind === 'identifier' && select.expression.name === context.alias;
    return { project: compileExpression(select.expression, context), selectsDocument: isAlias };
  }
  const members = namedItems(select.items).map(({ name, expression }) => [name, compileExpression(expression, context)] as const);
  return {
    project: (document) => {
      const row: Record<string, unknown> = {};
      for (const [name, evaluate] of members) {
        const value = evaluate(document);
        if (value !== undefined) row[name] = value;
      }
      return row;
    },
    selectsDocument: false,
  };
}

/** A select list's members with their names: the alias, else `c.id` → `id`, `c["x"]` → `x`, else `$1`, `$2`, … */
export function namedItems(items: readonly SqlSelectItem[]): { name: string; expression: SqlExpression }[] {
  let unnamed = 0;
  return items.map(({ expression, alias }) => ({ name: alias ?? impliedName(expression) ?? `$${(unnamed += 1)}`, expression }));
}

function impliedName(expression: SqlExpression): string | undefined {
  if (expression.kind === 'identifier') return expression.name;
  return expression.kind === 'member' && typeof expression.property === 'string' ? expression.property : undefined;
}

function parameterValue(name: string, context: { parameters: Map<string, unknown> }): unknown {
  if (!context.parameters.has(name)) throw new QueryError(`The query parameter ${name} is not defined`);
  return context.parameters.get(name);
}

function compileExpression(node: SqlExpression, context: CompileContext): Evaluate {
  switch (node.kind) {
    case 'identifier': {
      if (node.name === context.alias) return (document) => document;
      throw new QueryError(`Identifier '${node.name}' could not be resolved`);
    }
    case 'parameter': {
      const value = parameterValue(node.name, context);
      return () => value;
    }
    case 'constant': {
      const { value } = node;
      return () => value;
    }
    case 'array': {
      const elements = node.elements.map((element) => compileExpression(element, context));
      return (document) => elements.map((element) => element(document)).filter((value) => value !== undefined);
    }
    case 'object': {
      const members = node.properties.map(({ key, value }) => [key, compileExpression(value, context)] as const);
      return (document) => {
        const object: Record<string, unknown> = {};
        for (const [key, evaluate] of members) {
          const value = evaluate(document);
          if (value !== undefined) object[key] = value;
        }
        return object;
      };
    }
    case 'member': {
      const object = compileExpression(node.object, context);
      const { property } = node;
      if (typeof property === 'string') return (document) => propertyOf(object(document), property);
      const key = compileExpression(property, context);
      return (document) => propertyOf(object(document), key(document));
    }
    case 'call':
      return compileCall(node, context);
    case 'unary': {
      const argument = compileExpression(node.argument, context);
      if (node.operator === 'NOT') return (document) => not(argument(document));
      const sign = node.operator === '-' ? -1 : 1;
      return (document) => {
        const value = argument(document);
        return typeof value === 'number' ? sign * value : undefined;
      };
    }
    case 'binary':
      return compileBinary(node.operator, compileExpression(node.left, context), compileExpression(node.right, context));
    case 'in': {
      const value = compileExpression(node.value, context);
      const list = node.list.map((item) => compileExpression(item, context));
      return (document) => {
        const candidate = value(document);
        if (candidate === undefined) return undefined;
        let result: boolean | undefined = false;
        for (const item of list) result = or(result, equals(candidate, item(document)));
        return node.negated ? not(result) : result;
      };
    }
    case 'between': {
      const value = compileExpression(node.value, context);
      const low = compileExpression(node.low, context);
      const high = compileExpression(node.high, context);
      return (document) => {
        const candidate = value(document);
        const above = compareForOperator(candidate, low(document));
        const below = compareForOperator(candidate, high(document));
        const result = and(above === undefined ? undefined : above >= 0, below === undefined ? undefined : below <= 0);
        return node.negated ? not(result) : result;
      };
    }
    case 'conditional': {
      const test = compileExpression(node.test, context);
      const then = compileExpression(node.then, context);
      const otherwise = compileExpression(node.otherwise, context);
      return (document) => (test(document) === true ? then(document) : otherwise(document));
    }
  }
}

function propertyOf(value: unknown, key: unknown): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) return typeof key === 'number' ? value[key] : undefined;
  return typeof key === 'string' && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}

function compileCall(node: Extract<SqlExpression, { kind: 'call' }>, context: CompileContext): Evaluate {
  if (aggregateKinds.has(node.name)) {
    if (!context.aggregates) throw new QueryError(`Aggregate ${node.name} is only allowed in the select list`);
    const [argumentNode, ...extra] = node.args;
    if (!argumentNode || extra.length > 0) throw new QueryError(`${node.name} takes one argument`);
    const slots = context.aggregates;
    context.aggregates = undefined; // no aggregate inside an aggregate
    const argument = compileExpression(argumentNode, context);
    context.aggregates = slots;
    const index = slots.push({ kind: node.name as AggregateKind, argument }) - 1;
    const values = context.aggregateValues;
    return () => values[index];
  }
  const implementation = systemFunction(node.name);
  if (!implementation) throw new QueryError(`The function ${node.name} is not supported by the Cosmos double`);
  const args = node.args.map((argument) => compileExpression(argument, context));
  return (document) => implementation(args.map((argument) => argument(document)));
}

const arithmetic: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
};

const comparisons: Record<string, (order: number) => boolean> = {
  '<': (order) => order < 0,
  '<=': (order) => order <= 0,
  '>': (order) => order > 0,
  '>=': (order) => order >= 0,
};

function compileBinary(operator: string, left: Evaluate, right: Evaluate): Evaluate {
  switch (operator) {
    case 'AND':
      return (document) => {
        const first = left(document);
        return first === false ? false : and(first, right(document));
      };
    case 'OR':
      return (document) => {
        const first = left(document);
        return first === true ? true : or(first, right(document));
      };
    case '=':
      return (document) => equals(left(document), right(document));
    case '!=':
    case '<>':
      return (document) => not(equals(left(document), right(document)));
    case '||':
      return (document) => {
        const a = left(document);
        const b = right(document);
        return typeof a === 'string' && typeof b === 'string' ? a + b : undefined;
      };
    case '??':
      return (document) => left(document) ?? right(document);
  }
  const compare = comparisons[operator];
  if (compare) {
    return (document) => {
      const order = compareForOperator(left(document), right(document));
      return order === undefined ? undefined : compare(order);
    };
  }
  const calculate = arithmetic[operator];
  if (calculate) {
    return (document) => {
      const a = left(document);
      const b = right(document);
      return typeof a === 'number' && typeof b === 'number' ? calculate(a, b) : undefined;
    };
  }
  throw new QueryError(`Unsupported operator ${operator}`);
}

// ---------------------------------------------------------------------------------------------
// Execution of one page

/** What a page of a query ran over: latest document versions in creation order, after `afterSeq`. */
export type DocumentScan = (afterSeq: number) => Iterator<Change>;

export interface QueryPage {
  /** Each result as JSON text, ready to be joined into the response body. */
  rows: string[];
  continuation: string | undefined;
  /** Documents looked at (what the page cost). */
  examined: number;
  bytes: number;
}

export interface PageOptions {
  maxItemCount: number;
  continuation: string | undefined;
  /** Cosmos ends a page at 4 MB of results whatever maxItemCount says. */
  maxBytes: number;
}

interface StreamToken {
  /** Creation order (`seq`) of the last document examined for the previous page. */
  s: number;
  /** Results returned so far (for TOP). */
  n: number;
}

interface OrderToken {
  /** Sort keys of the last result returned, `u` marking an undefined key. */
  k: ({ v: unknown } | { u: 1 })[];
  s: number;
  n: number;
}

export function runQueryPage(query: CompiledQuery, scan: DocumentScan, options: PageOptions): QueryPage {
  if (query.aggregates.length > 0) return aggregatePage(query, scan);
  if (query.orderBy.length > 0) return orderedPage(query, scan, options);
  return streamingPage(query, scan, options);
}

function streamingPage(query: CompiledQuery, scan: DocumentScan, options: PageOptions): QueryPage {
  const token = (decodeToken(options.continuation) as StreamToken | undefined) ?? { s: -1, n: 0 };
  const page: QueryPage = { rows: [], continuation: undefined, examined: 0, bytes: 0 };
  let returned = token.n;
  if (query.top !== undefined && returned >= query.top) return page;
  const documents = scan(token.s);
  const needsDocument = query.filter !== undefined || !query.selectsDocument;
  for (let next = documents.next(); !next.done; next = documents.next()) {
    const change = next.value;
    page.examined += 1;
    const document: unknown = needsDocument ? JSON.parse(change.text) : undefined;
    if (query.filter && query.filter(document) !== true) continue;
    const row = query.selectsDocument ? change.text : serialise(query.project(document));
    if (row === undefined) continue;
    page.rows.push(row);
    page.bytes += row.length;
    returned += 1;
    if (query.top !== undefined && returned >= query.top) return page;
    if (page.rows.length >= options.maxItemCount || page.bytes >= options.maxBytes) {
      // A continuation only when documents remain to be examined (the next page may still be empty).
      if (!documents.next().done) page.continuation = encodeToken({ s: change.seq, n: returned });
      return page;
    }
  }
  return page;
}

interface SortEntry {
  keys: unknown[];
  seq: number;
  change: Change;
  document: unknown;
}

function orderedPage(query: CompiledQuery, scan: DocumentScan, options: PageOptions): QueryPage {
  const token = decodeToken(options.continuation) as OrderToken | undefined;
  const page: QueryPage = { rows: [], continuation: undefined, examined: 0, bytes: 0 };
  let returned = token?.n ?? 0;
  const compare = (a: { keys: unknown[]; seq: number }, b: { keys: unknown[]; seq: number }): number => {
    for (const [index, { descending }] of query.orderBy.entries()) {
      const order = compareForSort(a.keys[index], b.keys[index]);
      if (order !== 0) return descending ? -order : order;
    }
    return a.seq - b.seq;
  };
  const entries: SortEntry[] = [];
  const documents = scan(-1);
  for (let next = documents.next(); !next.done; next = documents.next()) {
    const change = next.value;
    page.examined += 1;
    const document: unknown = JSON.parse(change.text);
    if (query.filter && query.filter(document) !== true) continue;
    entries.push({ keys: query.orderBy.map(({ key }) => key(document)), seq: change.seq, change, document });
  }
  entries.sort(compare);
  const resumeAfter = token && { keys: token.k.map((key) => ('v' in key ? key.v : undefined)), seq: token.s };
  let index = resumeAfter ? entries.findIndex((entry) => compare(entry, resumeAfter) > 0) : 0;
  if (index < 0) index = entries.length;
  for (; index < entries.length; index += 1) {
    if (query.top !== undefined && returned >= query.top) return page;
    const entry = entries[index];
    if (!entry) break;
    const row = query.selectsDocument ? entry.change.text : serialise(query.project(entry.document));
    if (row === undefined) continue;
    page.rows.push(row);
    page.bytes += row.length;
    returned += 1;
    const full = page.rows.length >= options.maxItemCount || page.bytes >= options.maxBytes;
    if (full && index + 1 < entries.length && (query.top === undefined || returned < query.top)) {
      const keys = entry.keys.map((key) => (key === undefined ? { u: 1 as const } : { v: key }));
      page.continuation = encodeToken({ k: keys, s: entry.seq, n: returned });
      return page;
    }
    if (full) return page;
  }
  return page;
}

function aggregatePage(query: CompiledQuery, scan: DocumentScan): QueryPage {
  const slots = query.aggregates.map(({ kind, argument }) => ({ argument, accumulator: new Accumulator(kind) }));
  const page: QueryPage = { rows: [], continuation: undefined, examined: 0, bytes: 0 };
  const documents = scan(-1);
  for (let next = documents.next(); !next.done; next = documents.next()) {
    page.examined += 1;
    const document: unknown = JSON.parse(next.value.text);
    if (query.filter && query.filter(document) !== true) continue;
    for (const { argument, accumulator } of slots) accumulator.add(argument(document));
  }
  // The select list reads the aggregate results through the slots compileFunction handed out.
  query.aggregateValues.splice(0, query.aggregateValues.length, ...slots.map(({ accumulator }) => accumulator.result()));
  const row = serialise(query.project(undefined));
  if (row !== undefined) {
    page.rows.push(row);
    page.bytes = row.length;
  }
  return page;
}

class Accumulator {
  #count = 0;
  #sum = 0;
  #numeric = true;
  #extreme: unknown = undefined;

  constructor(private readonly kind: AggregateKind) {}

  add(value: unknown): void {
    if (value === undefined) return;
    this.#count += 1;
    if (this.kind === 'SUM' || this.kind === 'AVG') {
      if (typeof value === 'number') this.#sum += value;
      else this.#numeric = false;
    } else if (this.kind === 'MIN' || this.kind === 'MAX') {
      if (typeof value === 'object' && value !== null) return; // MIN/MAX ignore arrays and objects
      const order = this.#extreme === undefined ? 1 : compareForSort(value, this.#extreme);
      if (this.#extreme === undefined || (this.kind === 'MIN' ? order < 0 : order > 0)) this.#extreme = value;
    }
  }

  result(): unknown {
    switch (this.kind) {
      case 'COUNT':
        return this.#count;
      case 'SUM':
        return this.#numeric ? this.#sum : undefined;
      case 'AVG':
        return this.#numeric && this.#count > 0 ? this.#sum / this.#count : undefined;
      default:
        return this.#extreme;
    }
  }
}

function serialise(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

function encodeToken(token: StreamToken | OrderToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

/** A continuation this engine issued (the caller knows which kind its query issues). */
function decodeToken(token: string | undefined): unknown {
  if (token === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(token, 'base64url').toString());
  } catch {
    throw new QueryError('Invalid continuation token');
  }
}
