import { describe, expect, it } from 'vitest';
import { describePostgresError, isRowDataError, isTransientPostgresError, sqlStateOf } from '../../shared/postgres/postgres-errors.js';

/** A PostgreSQL error as `pg` throws it: the server's message, and its SQLSTATE as `code`. */
function serverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** A Prisma error of its own (not a SQLSTATE): `name` and a P-code. */
function prismaError(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: 'PrismaClientKnownRequestError', code });
}

describe('what one row is refused for (isolated and quarantined, the rest of the page written)', () => {
  it.each([
    ['54000', 'index row size 3016 exceeds btree version 4 maximum 2704 for index "accounts_username_idx"'],
    ['54001', 'stack depth limit exceeded'],
    ['21000', 'ON CONFLICT DO UPDATE command cannot affect row a second time'],
    ['22P02', 'invalid input syntax for type json'],
    ['22003', 'integer out of range'],
    ['23514', 'new row for relation "payments" violates check constraint "positive"'],
  ])('%s is the row’s', (code, message) => {
    expect(isRowDataError(serverError(code, message))).toBe(true);
  });

  it.each([
    ['23505', 'duplicate key value violates unique constraint'],
    ['40001', 'could not serialize access'],
    ['42P01', 'relation "x" does not exist'],
    ['57014', 'canceling statement due to statement timeout'],
  ])('%s is not', (code, message) => {
    expect(isRowDataError(serverError(code, message))).toBe(false);
  });
});

describe('a quarantine reason from a database error', () => {
  it('keeps the SQLSTATE and the names of what refused the row, never a quoted value', () => {
    expect(
      describePostgresError(
        serverError('54000', 'index row size 3016 exceeds btree version 4 maximum 2704 for index "payments_lnHash_idx"'),
      ),
    ).toBe('SQLSTATE 54000: index row size 3016 exceeds btree version 4 maximum 2704 for index "payments_lnHash_idx"');
    expect(describePostgresError(serverError('22P02', 'invalid input syntax for type bigint: "secret-token-123"'))).toBe(
      'SQLSTATE 22P02: invalid input syntax for type bigint: "…"',
    );
    expect(describePostgresError(serverError('22003', 'value "99999999999" is out of range for type integer'))).toBe(
      'SQLSTATE 22003: value "…" is out of range for type integer',
    );
    expect(
      describePostgresError(serverError('23502', 'null value in column "tier" of relation "accounts" violates not-null constraint')),
    ).toBe('SQLSTATE 23502: null value in column "tier" of relation "accounts" violates not-null constraint');
  });
});

describe('transient errors (retried for the retry window)', () => {
  it('counts a server gone away however Prisma or pg says it', () => {
    expect(isTransientPostgresError(prismaError('P1017', 'Server has closed the connection.'))).toBe(true);
    expect(isTransientPostgresError(prismaError('P1001', "Can't reach database server"))).toBe(true);
    expect(isTransientPostgresError(new Error('Connection terminated due to connection timeout'))).toBe(true);
    expect(isTransientPostgresError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientPostgresError(serverError('57P01', 'terminating connection due to administrator command'))).toBe(true);
    expect(isTransientPostgresError(serverError('08006', 'connection failure'))).toBe(true);
  });

  it('does not count a Prisma code as a SQLSTATE, nor retry what another try would repeat', () => {
    expect(sqlStateOf(prismaError('P1017', 'Server has closed the connection.'))).toBeUndefined();
    expect(isTransientPostgresError(prismaError('P2002', 'Unique constraint failed'))).toBe(false);
    expect(isTransientPostgresError(serverError('57014', 'canceling statement due to statement timeout'))).toBe(false);
    expect(isTransientPostgresError(serverError('54000', 'index row size exceeds maximum'))).toBe(false);
  });
});
