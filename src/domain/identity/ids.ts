import { ValidationFailed } from '../errors';
import { isSnowflake } from '../snowflake';

/** A snowflake id argument, refused with a domain error (not a database error) when malformed. */
export function snowflakeArg(value: unknown, field = 'userId'): string {
  if (!isSnowflake(value)) throw new ValidationFailed(field, 'must be a snowflake id');
  return value;
}

/** The id of a user argument (an entity or reference); anything else is refused rather than a TypeError. */
export function userIdOf(user: unknown, field = 'user'): string {
  const id = typeof user === 'object' && user !== null ? (user as { id?: unknown }).id : undefined;
  if (!isSnowflake(id)) throw new ValidationFailed(field, 'must be a user');
  return id;
}

/** What operations accept for "a user" or "a server": the entity, a reference, or the bare id. */
export type IdArg = { readonly id: string } | string;

/** The id of an IdArg; anything else is refused with ValidationFailed naming `field`. */
export function idArg(value: unknown, field: string): string {
  if (typeof value === 'string') return snowflakeArg(value, field);
  const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
  if (!isSnowflake(id)) throw new ValidationFailed(field, 'must be an entity or a snowflake id');
  return id;
}
