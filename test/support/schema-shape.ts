import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type pg from 'pg';

/**
 * One comparable description of a PostgreSQL schema, built two ways: from what `schema.prisma` declares
 * (Prisma's DMMF, read offline by the same wasm parser the Prisma CLI uses) and from what a database
 * actually has (pg_catalog). Prisma's PostgreSQL conventions (type mapping, `<table>_pkey`/`_key`/`_idx`/
 * `_fkey` names, `CURRENT_TIMESTAMP` for now(), default referential actions) turn the first into the second.
 * Anything this file cannot translate throws, so a schema feature added later fails loudly, never silently.
 */

export interface ColumnShape {
  type: string;
  nullable: boolean;
  default: string | null;
}

export interface IndexShape {
  unique: boolean;
  method: string;
  /** Column names in index order, ` DESC` appended where descending. */
  columns: string[];
}

export interface ForeignKeyShape {
  columns: string[];
  referencedTable: string;
  referencedColumns: string[];
  onDelete: ReferentialAction;
  onUpdate: ReferentialAction;
}

export interface TableShape {
  columns: Record<string, ColumnShape>;
  primaryKey: { name: string; columns: string[] } | null;
  /** Every index but the primary key's, by name; unique constraints appear here as the unique index backing them. */
  indexes: Record<string, IndexShape>;
  foreignKeys: Record<string, ForeignKeyShape>;
}

export type SchemaShape = Record<string, TableShape>;

type ReferentialAction = 'Cascade' | 'Restrict' | 'NoAction' | 'SetNull' | 'SetDefault';

// ---- Declared: schema.prisma through DMMF -------------------------------------------------------------

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'object' | 'enum' | 'unsupported';
  type: string;
  isList: boolean;
  isRequired: boolean;
  hasDefaultValue: boolean;
  default?: unknown;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: ReferentialAction;
  relationOnUpdate?: ReferentialAction;
}

interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}

interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  dbName?: string | null;
  algorithm?: string;
  where?: unknown;
  fields: { name: string; sortOrder?: 'asc' | 'desc'; length?: number; operatorClass?: string }[];
}

export interface Datamodel {
  models: DmmfModel[];
  enums: unknown[];
  indexes: DmmfIndex[];
}

/** Parses a schema.prisma file with `@prisma/prisma-schema-wasm` (no engine binary, no network). */
export async function readDatamodel(schemaPath: string): Promise<Datamodel> {
  const schema = await readFile(schemaPath, 'utf8');
  const wasm = createRequire(import.meta.url)('@prisma/prisma-schema-wasm') as { get_dmmf(params: string): string };
  const dmmf = JSON.parse(wasm.get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schema]], noColor: true }))) as {
    datamodel: Datamodel;
  };
  return dmmf.datamodel;
}

const SCALAR_TYPES: Record<string, string> = {
  String: 'text',
  Boolean: 'boolean',
  Int: 'integer',
  BigInt: 'bigint',
  Float: 'double precision',
  Decimal: 'numeric(65,30)',
  DateTime: 'timestamp(3) without time zone',
  Json: 'jsonb',
  Bytes: 'bytea',
};

const NATIVE_TYPES: Record<string, (args: string[]) => string> = {
  Text: () => 'text',
  VarChar: ([n]) => (n ? `character varying(${n})` : 'character varying'),
  Char: ([n]) => `character(${n ?? 1})`,
  Uuid: () => 'uuid',
  Integer: () => 'integer',
  SmallInt: () => 'smallint',
  BigInt: () => 'bigint',
  Boolean: () => 'boolean',
  JsonB: () => 'jsonb',
  Json: () => 'json',
  Real: () => 'real',
  DoublePrecision: () => 'double precision',
  Decimal: ([p, s]) => (p ? `numeric(${p},${s ?? 0})` : 'numeric'),
  Date: () => 'date',
  Timestamptz: ([p]) => `timestamp(${p ?? 6}) with time zone`,
  Timestamp: ([p]) => `timestamp(${p ?? 6}) without time zone`,
};

/** The schema `prisma migrate` would create for this datamodel on PostgreSQL, in {@link SchemaShape} form. */
export function declaredSchema(datamodel: Datamodel): SchemaShape {
  if (datamodel.enums.length > 0) throw new Error('schema-shape: enums are not translated yet; extend test/support/schema-shape.ts');
  const tableOf = new Map(datamodel.models.map((model) => [model.name, model.dbName ?? model.name]));
  const shape: SchemaShape = {};
  for (const model of datamodel.models) {
    const table = tableOf.get(model.name) as string;
    const columnOf = (fieldName: string) => {
      const field = model.fields.find((candidate) => candidate.name === fieldName);
      if (!field) throw new Error(`schema-shape: ${model.name} has no field ${fieldName}`);
      return field.dbName ?? field.name;
    };
    const columns: Record<string, ColumnShape> = {};
    for (const field of model.fields.filter((candidate) => candidate.kind !== 'object')) {
      if (field.kind !== 'scalar') throw new Error(`schema-shape: ${model.name}.${field.name} is ${field.kind}; not translated yet`);
      const type = declaredType(model, field);
      columns[field.dbName ?? field.name] = { type, nullable: !field.isRequired, default: declaredDefault(model, field, type) };
    }
    const tableShape: TableShape = { columns, primaryKey: null, indexes: {}, foreignKeys: {} };
    for (const index of datamodel.indexes.filter((candidate) => candidate.model === model.name)) {
      if (index.type === 'fulltext' || index.where !== undefined || index.fields.some((field) => field.length || field.operatorClass)) {
        throw new Error(`schema-shape: an index on ${model.name} uses options not translated yet; extend test/support/schema-shape.ts`);
      }
      const names = index.fields.map((field) => columnOf(field.name));
      const ordered = index.fields.map((field, at) => `${names[at]}${field.sortOrder === 'desc' ? ' DESC' : ''}`);
      if (index.type === 'id') {
        tableShape.primaryKey = { name: index.dbName ?? `${table}_pkey`, columns: names };
        continue;
      }
      const suffix = index.type === 'unique' ? 'key' : 'idx';
      tableShape.indexes[index.dbName ?? `${table}_${names.join('_')}_${suffix}`] = {
        unique: index.type === 'unique',
        method: (index.algorithm ?? 'BTree').toLowerCase(),
        columns: ordered,
      };
    }
    for (const relation of model.fields.filter((field) => field.kind === 'object' && field.relationFromFields?.length)) {
      const fromFields = relation.relationFromFields ?? [];
      const from = fromFields.map(columnOf);
      const target = datamodel.models.find((candidate) => candidate.name === relation.type);
      if (!target) throw new Error(`schema-shape: ${model.name}.${relation.name} points at unknown model ${relation.type}`);
      const required = fromFields.every((name) => model.fields.find((field) => field.name === name)?.isRequired);
      tableShape.foreignKeys[`${table}_${from.join('_')}_fkey`] = {
        columns: from,
        referencedTable: target.dbName ?? target.name,
        referencedColumns: (relation.relationToFields ?? []).map(
          (name) => target.fields.find((field) => field.name === name)?.dbName ?? name,
        ),
        // Prisma's defaults when the schema says nothing.
        onDelete: relation.relationOnDelete ?? (required ? 'Restrict' : 'SetNull'),
        onUpdate: relation.relationOnUpdate ?? 'Cascade',
      };
    }
    shape[table] = tableShape;
  }
  return shape;
}

function declaredType(model: DmmfModel, field: DmmfField): string {
  let type: string | undefined;
  if (field.nativeType) {
    const [name, args] = field.nativeType;
    type = NATIVE_TYPES[name]?.(args);
  } else {
    type = SCALAR_TYPES[field.type];
  }
  if (!type) throw new Error(`schema-shape: no PostgreSQL type known for ${model.name}.${field.name} (${field.type})`);
  return field.isList ? `${type}[]` : type;
}

/** How PostgreSQL prints the default Prisma's migration sets (pg_get_expr's spelling). */
function declaredDefault(model: DmmfModel, field: DmmfField, type: string): string | null {
  if (!field.hasDefaultValue) return null;
  const value = field.default;
  const castTo = type.replace(/\(.*?\)/g, '');
  if (typeof value === 'object' && value !== null && 'name' in value) {
    const fn = value as { name: string; args: unknown[] };
    if (fn.name === 'now') return 'CURRENT_TIMESTAMP';
    if (['uuid', 'cuid', 'nanoid', 'ulid'].includes(fn.name)) return null; // generated by the client, not the database
    if (fn.name === 'dbgenerated' && typeof fn.args[0] === 'string') return fn.args[0];
    throw new Error(`schema-shape: default ${fn.name}() on ${model.name}.${field.name} is not translated yet`);
  }
  switch (field.type) {
    case 'String':
    case 'Json':
      return `'${String(value).replace(/'/g, "''")}'::${castTo}`;
    case 'Boolean':
      return String(value);
    case 'Int':
    case 'BigInt': {
      const number = BigInt(String(value));
      // PostgreSQL prints non-negative integers that fit int4 bare, anything else as a cast literal.
      return number >= 0n && number <= 2147483647n ? number.toString() : `'${number}'::${castTo}`;
    }
    case 'Float':
      // A whole non-negative default prints bare (`0`), like an int4 literal.
      if (Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 2147483647) return String(value);
      throw new Error(`schema-shape: a fractional or large Float default on ${model.name}.${field.name} is not translated yet`);
    default:
      throw new Error(`schema-shape: a ${field.type} default on ${model.name}.${field.name} is not translated yet`);
  }
}

// ---- Actual: a database through pg_catalog -----------------------------------------------------------

const ACTIONS: Record<string, ReferentialAction> = { a: 'NoAction', r: 'Restrict', c: 'Cascade', n: 'SetNull', d: 'SetDefault' };

/** Every ordinary table in the connection's current schema, in {@link SchemaShape} form. */
export async function databaseSchema(db: pg.Pool | pg.Client): Promise<SchemaShape> {
  const shape: SchemaShape = {};
  const tableShape = (table: string): TableShape => (shape[table] ??= { columns: {}, primaryKey: null, indexes: {}, foreignKeys: {} });

  const tables = await db.query<{ table: string }>(
    `SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')`,
  );
  for (const { table } of tables.rows) tableShape(table);

  const columns = await db.query<{ table: string; column: string; type: string; not_null: boolean; default: string | null }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
  );
  for (const row of columns.rows) {
    tableShape(row.table).columns[row.column] = { type: row.type, nullable: !row.not_null, default: row.default };
  }

  const constraints = await db.query<{
    table: string;
    name: string;
    kind: 'p' | 'f';
    columns: string[];
    referenced_table: string | null;
    referenced_columns: string[] | null;
    on_delete: string;
    on_update: string;
  }>(
    `SELECT c.relname AS table, con.conname AS name, con.contype AS kind,
            (SELECT array_agg(a.attname ORDER BY k.ord)::text[] FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS columns,
            rc.relname AS referenced_table,
            (SELECT array_agg(a.attname ORDER BY k.ord)::text[] FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum) AS referenced_columns,
            con.confdeltype AS on_delete, con.confupdtype AS on_update
       FROM pg_constraint con
       JOIN pg_class c ON c.oid = con.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_class rc ON rc.oid = con.confrelid
      WHERE n.nspname = current_schema() AND con.contype IN ('p', 'f')`,
  );
  for (const row of constraints.rows) {
    if (row.kind === 'p') {
      tableShape(row.table).primaryKey = { name: row.name, columns: row.columns };
    } else {
      tableShape(row.table).foreignKeys[row.name] = {
        columns: row.columns,
        referencedTable: row.referenced_table ?? '',
        referencedColumns: row.referenced_columns ?? [],
        onDelete: ACTIONS[row.on_delete] ?? 'NoAction',
        onUpdate: ACTIONS[row.on_update] ?? 'NoAction',
      };
    }
  }

  const indexes = await db.query<{
    table: string;
    name: string;
    unique: boolean;
    method: string;
    columns: string[];
    predicate: string | null;
  }>(
    `SELECT t.relname AS table, i.relname AS name, ix.indisunique AS unique, am.amname AS method,
            (SELECT array_agg(coalesce(a.attname, pg_get_indexdef(ix.indexrelid, k.ord::int, true))
                              || CASE WHEN k.option & 1 = 1 THEN ' DESC' ELSE '' END ORDER BY k.ord)::text[]
               FROM unnest(ix.indkey::int2[], ix.indoption::int2[]) WITH ORDINALITY AS k(attnum, option, ord)
               LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum AND k.attnum > 0) AS columns,
            pg_get_expr(ix.indpred, ix.indrelid) AS predicate
       FROM pg_index ix
       JOIN pg_class i ON i.oid = ix.indexrelid
       JOIN pg_class t ON t.oid = ix.indrelid
       JOIN pg_am am ON am.oid = i.relam
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = current_schema() AND NOT ix.indisprimary`,
  );
  for (const row of indexes.rows) {
    // A partial index is not what its columns alone say; make the predicate part of what is compared.
    const columnsShown = row.predicate ? [...row.columns, `WHERE ${row.predicate}`] : row.columns;
    tableShape(row.table).indexes[row.name] = { unique: row.unique, method: row.method, columns: columnsShown };
  }
  return shape;
}
