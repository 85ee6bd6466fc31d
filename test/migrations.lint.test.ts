/**
 * npm run lint:migrations: squawk over the SQL each migration emits. A new migration that breaks a house
 * rule (docs/operations.md#writing-a-migration) fails the lint; the compliant way of doing the same passes.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BASELINE, lintMigrations } from '../scripts/lint-migrations';

const ROOT = resolve(__dirname, '..');
const scratch = join(ROOT, 'temp', `migration-lint-${process.pid}`);
let serial = 0;

/** Writes a one-migration folder and lints it as a new (not baselined) migration. */
async function lintNew(statements: string[], options: { transactional?: boolean } = {}) {
  const name = `Migration2099010100${String(serial++).padStart(4, '0')}_Probe`;
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  const transactional = options.transactional ?? true;
  writeFileSync(
    join(dir, `${name}.ts`),
    [
      `import { Migration } from '@mikro-orm/migrations';`,
      `export class ${name} extends Migration {`,
      transactional ? '' : '  override isTransactional(): boolean { return false; }',
      '  override async up(): Promise<void> {',
      ...statements.map((sql) => `    this.addSql(${JSON.stringify(sql)});`),
      '  }',
      '}',
    ].join('\n'),
  );
  const [result] = await lintMigrations(dir, new Set());
  return result;
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('npm run lint:migrations', () => {
  it('passes the repository: every migration since the baseline follows the house rules', async () => {
    const results = await lintMigrations();
    expect(results.length).toBeGreaterThanOrEqual(BASELINE.size);
    expect(results.filter((r) => !r.passed && !r.baselined).map((r) => `${r.name}\n${r.report}`)).toEqual([]);
  });

  it('fails a plain CREATE INDEX on "Message", passes it CONCURRENTLY outside a transaction', async () => {
    const plain = await lintNew(['create index "Message_authorId_index" on "Message" ("authorId");']);
    expect(plain.passed).toBe(false);
    expect(plain.report).toContain('require-concurrent-index-creation');

    const inTransaction = await lintNew([
      'create index concurrently "Message_authorId_index" on "Message" ("authorId");',
    ]);
    expect(inTransaction.passed).toBe(false);
    expect(inTransaction.report).toContain('ban-concurrent-index-creation-in-transaction');

    const concurrent = await lintNew(
      ['create index concurrently if not exists "Message_authorId_index" on "Message" ("authorId");'],
      {
        transactional: false,
      },
    );
    expect(concurrent).toMatchObject({ passed: true, transactional: false, report: '' });
  });

  it('fails a constraint validated as it is added, passes NOT VALID then a later VALIDATE', async () => {
    const check = 'check (char_length("content") <= 4000)';
    const validated = await lintNew([`alter table "Message" add constraint "Message_content_length" ${check};`]);
    expect(validated.passed).toBe(false);
    expect(validated.report).toContain('constraint-missing-not-valid');

    const notValid = await lintNew([
      `alter table "Message" add constraint "Message_content_length" ${check} not valid;`,
    ]);
    expect(notValid.passed).toBe(true);
    const validate = await lintNew(['alter table "Message" validate constraint "Message_content_length";']);
    expect(validate.passed).toBe(true);
  });

  it('fails a column type change (a table rewrite) on an existing table', async () => {
    const rewrite = await lintNew(['alter table "Reaction" alter column "emojiName" type text;']);
    expect(rewrite.passed).toBe(false);
    expect(rewrite.report).toContain('changing-column-type');
  });

  it('passes what migration:create emits for a new table, its indexes and its foreign keys', async () => {
    const newTable = await lintNew([
      'create table "Bookmark" ("id" bigint not null, "userId" bigint not null, "messageId" bigint not null, ' +
        'constraint "Bookmark_pkey" primary key ("id"));',
      'create index "Bookmark_userId_index" on "Bookmark" ("userId");',
      'alter table "Bookmark" add constraint "Bookmark_messageId_foreign" foreign key ("messageId") ' +
        'references "Message" ("id") on update cascade on delete cascade;',
    ]);
    expect(newTable.report).toBe('');
    expect(newTable.passed).toBe(true);
  });
});
