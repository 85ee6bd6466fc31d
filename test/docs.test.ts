/**
 * The docs cannot drift from the code: generated figures match their JSON, every link and section
 * citation resolves, the README lists every error code, script and environment variable the code has,
 * and the README's service example runs as written.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DOMAIN_EVENT_TYPES } from '../src/domain/events';
import { LATEST_JSON, PERFORMANCE_DOC, renderPerformanceDoc } from '../scripts/performance-doc';
import { useTestDatabase } from './support/db';

const ROOT = resolve(__dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DOCS = [
  'README.md',
  'CHANGELOG.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** Markdown without its fenced code blocks (links and headings inside them are examples). */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```/gm, '');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6} +(.+?) *$/gm)) {
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n ? `${slug}-${n}` : slug);
  }
  return anchors;
}

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = `${dir}/${name}`;
    return statSync(join(ROOT, path)).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('docs/performance.md', () => {
  it('is what scripts/performance-doc.ts makes of bench/results/latest.json (run npm run docs:performance)', () => {
    const regenerated = renderPerformanceDoc(JSON.parse(readFileSync(LATEST_JSON, 'utf8')));
    expect(readFileSync(PERFORMANCE_DOC, 'utf8')).toBe(regenerated);
  });

  it('is the only page that quotes benchmark results', () => {
    const readme = read('README.md');
    expect(readme).not.toMatch(/\d(\.\d+)?x\b/);
    expect(readme).not.toMatch(/\b(ops|rows|sends|joins)\/s\b/);
  });
});

describe('links and citations', () => {
  it('every relative link in the README and docs/ resolves to a file, and its anchor to a heading', () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      for (const [, target] of prose(read(doc)).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target)) continue;
        const [path, anchor] = target.split('#');
        const file = path ? relative(ROOT, resolve(ROOT, dirname(doc), path)) : doc;
        if (!existsSync(join(ROOT, file))) broken.push(`${doc}: ${target} (no file ${file})`);
        else if (anchor && file.endsWith('.md') && !anchorsOf(read(file)).has(anchor))
          broken.push(`${doc}: ${target} (no heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('no file cites the design notes that live outside the repository', () => {
    const outside = ['DESIGN', 'md'].join('.');
    const files = ['README.md', ...['src', 'test', 'scripts', 'bench', 'docs'].flatMap(filesUnder)];
    const citing = files.filter((f) => /\.(ts|js|md)$/.test(f) && read(f).includes(outside));
    expect(citing).toEqual([]);
  });

  it('every "architecture.md §N" citation names a section that exists', () => {
    const sections = new Set([...read('docs/architecture.md').matchAll(/^## (\d+)\. /gm)].map((m) => m[1]));
    const files = ['README.md', ...['src', 'test', 'scripts', 'bench', 'docs'].flatMap(filesUnder)].filter((f) =>
      /\.(ts|md)$/.test(f),
    );
    const missing: string[] = [];
    for (const file of files) {
      for (const [, n] of read(file).matchAll(/architecture\.md §(\d+)/g))
        if (!sections.has(n)) missing.push(`${file}: §${n}`);
    }
    expect(sections.size).toBeGreaterThanOrEqual(13);
    expect(missing).toEqual([]);
  });
});

describe('the README', () => {
  const readme = read('README.md');

  it('stays short', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
  });

  it('lists every error code of src/domain/errors.ts', () => {
    const codes = [...read('src/domain/errors.ts').matchAll(/readonly code = '([A-Z_]+)'/g)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThan(30);
    expect(codes.filter((code) => !readme.includes(`| \`${code}\` |`))).toEqual([]);
  });

  it('lists every npm script', () => {
    const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts);
    const table = readme.slice(readme.indexOf('## Scripts'), readme.indexOf('## Configuration'));
    expect(scripts.filter((name) => !table.includes(`\`${name}\``) && !table.includes(`\`npm run ${name}`))).toEqual(
      [],
    );
  });

  it('documents every environment variable the package, its scripts and its CLI read', () => {
    const sources = ['src', 'scripts', 'bin']
      .flatMap(filesUnder)
      .concat('mikro-orm.config.ts')
      .filter((f) => /\.(ts|js)$/.test(f));
    const names = new Set<string>();
    for (const file of sources) {
      for (const [, name] of read(file).matchAll(/\b(?:process\.)?env\.([A-Z][A-Z0-9_]+)/g)) names.add(name);
    }
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Documentation'));
    const ignored = new Set(['PATH', 'NODE_OPTIONS']);
    expect(names.size).toBeGreaterThan(10);
    expect([...names].filter((name) => !ignored.has(name) && !table.includes(`\`${name}\``))).toEqual([]);
  });

  const db = useTestDatabase();

  it('runs its service example as written', async () => {
    const block = /<!-- service-example -->\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toContain("from '@cryb/database'");
    const dir = join(ROOT, 'temp', `readme-example-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'service.ts');
    writeFileSync(file, block!.replace("'@cryb/database'", `'${join(ROOT, 'src', 'index')}'`));
    try {
      const tsx = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
      const { stdout } = await promisify(execFile)(process.execPath, [tsx, file], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: db().url },
        timeout: 100_000,
      });
      expect(stdout).toMatch(/^alice#\d{4} and bob#\d{4}: relationship type 1$/m);
      expect(stdout).toContain("code: 'SELF_RELATIONSHIP'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const friends = await db().sql<{ n: string }>(`select count(*) as n from "Relationship" where status = 'FRIENDS'`);
    expect(Number(friends[0].n)).toBe(1);
  }, 120_000);
});

describe('docs/events.md', () => {
  it('describes every event type', () => {
    const events = read('docs/events.md');
    expect(DOMAIN_EVENT_TYPES.filter((type) => !events.includes(`\`${type}\``))).toEqual([]);
  });
});
