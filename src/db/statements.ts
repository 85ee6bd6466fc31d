/** A statement with its bind parameters (`?` placeholders), for composing several writes into one round trip. */
export interface SqlStatement {
  sql: string;
  params: unknown[];
}

/**
 * One statement: `leading` as data-modifying CTEs (w0, w1, ...) before `last`, which may itself start
 * with a WITH clause. All parts run in one round trip on one snapshot; a part never sees another's
 * rows, so only writes that do not read each other belong together.
 */
export function withLeading(leading: readonly SqlStatement[], last: SqlStatement): SqlStatement {
  if (leading.length === 0) return last;
  const ctes = leading.map((w, i) => `w${i} as (${w.sql})`).join(', ');
  const own = /^\s*with\s/i.exec(last.sql);
  const sql = own ? `with ${ctes}, ${last.sql.slice(own[0].length)}` : `with ${ctes} ${last.sql}`;
  return { sql, params: [...leading.flatMap((w) => w.params), ...last.params] };
}
