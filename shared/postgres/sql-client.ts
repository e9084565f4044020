/**
 * What the write path's statements need from a connection: raw SQL with positional parameters. A Prisma
 * client, a Prisma interactive transaction and a {@link PgTransaction} (`pg-transaction.ts`) all have it,
 * so the same statement code runs in the hot write path (on `pg` directly) and in the removal transactions
 * (through Prisma). Results are alike on both: int8 as bigint, jsonb parsed, timestamptz as Date; only numeric
 * differs (a Prisma Decimal, a `pg` string), and no statement run on both returns one.
 */
export interface SqlClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
  /** The number of rows the statement touched. */
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
}

/** A transaction that can also stream rows in with COPY: the write path's, on `pg` (`pg-transaction.ts`). */
export interface CopyClient extends SqlClient {
  /** Runs `statement` (a `COPY … FROM STDIN`) with `data` (UTF-8 bytes of COPY's text format) as its input; the rows copied. */
  copyFrom(statement: string, data: Buffer): Promise<number>;
}
