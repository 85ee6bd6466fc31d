import { ArrayType } from '@mikro-orm/core';

/**
 * A `bigint[]` column holding snowflakes as decimal strings (the way ids travel everywhere else), so
 * `&&` and `= any(...)` against other id columns need no casts and GIN indexes stay typed.
 */
export class SnowflakeArrayType extends ArrayType<string> {
  constructor() {
    super(
      (id) => String(id),
      (id) => String(id),
    );
  }

  override getColumnType(): string {
    return 'bigint[]';
  }

  override compareAsType(): string {
    return 'string[]';
  }
}
