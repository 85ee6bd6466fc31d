import {
  CheckConstraintViolationException,
  ConnectionException,
  DeadlockException,
  DriverException,
  ForeignKeyConstraintViolationException,
  LockWaitTimeoutException,
  NotFoundError,
  NotNullConstraintViolationException,
  UniqueConstraintViolationException,
  ValidationError,
} from '@mikro-orm/core';
import {
  AlreadyExists,
  ConcurrencyConflict,
  DatabaseUnavailable,
  DomainError,
  NotFound,
  OperationTimedOut,
  ValidationFailed,
} from '../domain/errors';

type PgError = {
  code?: string;
  constraint?: string;
  table?: string;
  column?: string;
  detail?: string;
  message?: string;
};

/**
 * The one place where database exceptions become domain errors, so no caller ever sees a raw
 * driver error for bad input or a lost race. Unknown errors pass through unchanged: they are bugs.
 */
export function translateDatabaseError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  if (error instanceof DriverException) {
    const pg = error as unknown as PgError;
    const constraint = pg.constraint ?? 'unknown';
    if (error instanceof UniqueConstraintViolationException) return new AlreadyExists(constraint);
    if (error instanceof ForeignKeyConstraintViolationException) return new NotFound(pg.table ?? 'row', constraint);
    if (error instanceof NotNullConstraintViolationException)
      return new ValidationFailed(pg.column ?? 'value', 'is required');
    if (error instanceof CheckConstraintViolationException)
      return new ValidationFailed(constraint, 'violates a database rule');
    if (error instanceof DeadlockException)
      return new ConcurrencyConflict(pg.code === '40001' ? 'serialization failure' : 'deadlock');
    if (error instanceof LockWaitTimeoutException) return new OperationTimedOut('lock wait');
    if (error instanceof ConnectionException) return new DatabaseUnavailable(error.message);
    return byCode(pg) ?? error;
  }
  // findOneOrFail inside a domain operation: the row named by the caller does not exist.
  if (error instanceof NotFoundError) {
    const match = /^(\w+) not found \((.*)\)$/.exec(error.message);
    return new NotFound(match?.[1] ?? 'row', (match?.[2] ?? '').replace(/^'|'$/g, ''));
  }
  if (error instanceof ValidationError) return error;
  const raw =
    typeof (error as PgError | undefined)?.code === 'string' && /^[0-9A-Z]{5}$/.test((error as PgError).code!)
      ? byCode(error as PgError)
      : null;
  if (raw) return raw;
  const code = (error as PgError | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT') {
    return new DatabaseUnavailable((error as Error).message);
  }
  if (
    error instanceof Error &&
    /Connection terminated|connection is closed|Client has encountered a connection error/i.test(error.message)
  ) {
    return new DatabaseUnavailable(error.message);
  }
  return error;
}

/** The domain error for a PostgreSQL error code, from the ORM or from a raw `pg` client alike. */
function byCode(pg: PgError): DomainError | null {
  switch (pg.code) {
    case '40001':
      return new ConcurrencyConflict('serialization failure');
    case '40P01':
      return new ConcurrencyConflict('deadlock');
    case '57014':
      return new OperationTimedOut('statement timeout');
    case '55P03':
      return new OperationTimedOut('lock not available');
    case '22001':
      return new ValidationFailed(pg.column ?? 'value', 'is too long');
    case '22P02':
    case '22003':
    case '22007':
    case '22008':
    case '22021':
      return new ValidationFailed(pg.column ?? 'value', 'is not valid for its type');
    case '57P01':
    case '57P02':
    case '57P03':
    case '08000':
    case '08003':
    case '08006':
      return new DatabaseUnavailable(pg.message ?? 'the database connection was lost');
  }
  return null;
}
