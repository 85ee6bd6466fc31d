import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles, srcFiles } from '../scripts/check-imports';

describe('the import-graph check', () => {
  it('finds no cycle of value imports among src files', () => {
    const cycles = importCycles(srcFiles()).map((c) => c.map((f) => relative(resolve(__dirname, '..'), f)));
    expect(cycles).toEqual([]);
  });

  it('reports a value cycle, and excepts type-only imports and an entity with the repository it declares', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cryb-imports-'));
    const file = (name: string, text: string) => writeFileSync(join(dir, name), text);
    file('a.ts', "import { b } from './b';\nexport const a = () => b;\n");
    file('b.ts', "import { a } from './a';\nexport const b = () => a;\n");
    file('c.ts', "import type { d } from './d';\nexport const c = 1;\n");
    file('d.ts', "import { c } from './c';\nexport const d = c;\n");
    file(
      'Foo.ts',
      "import { FooRepository } from './FooRepository';\n@Entity({ repository: () => FooRepository })\nexport " +
        'class Foo {}\n',
    );
    file('FooRepository.ts', "import { Foo } from './Foo';\nexport class FooRepository { foo?: Foo }\n");
    const cycles = importCycles(
      ['a.ts', 'b.ts', 'c.ts', 'd.ts', 'Foo.ts', 'FooRepository.ts'].map((n) => join(dir, n)),
    );
    expect(cycles.map((c) => c.map((f) => relative(dir, f)))).toEqual([['a.ts', 'b.ts']]);
  });
});
