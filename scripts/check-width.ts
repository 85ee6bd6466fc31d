/**
 * Fails when a git-tracked .ts, .js or .mjs line is wider than the formatter's width (printWidth 120
 * in .prettierrc), and lists each as file:line (width). Width is counted in Unicode code points, as
 * `awk 'length > 120'` counts in a UTF-8 locale.
 *
 * Left out, because they cannot be broken without changing what they are:
 * - files under src/migrations/: their SQL is compared by tools, so they stay exactly as generated;
 * - a line that, after its indentation, is one literal and nothing else: a string ('...' or "..."),
 *   a template literal without `${` that opens and closes on the line, or a regular expression,
 *   followed at most by `,`, `;`, `)` or ` +` (a long message or pattern already on a line of its own);
 * - a test's title line, `it('title', async () => {` (also test, describe and their .skip/.only/.each
 *   forms) with the title as one string or template literal: Prettier keeps a test call on one line
 *   however long;
 * - a line that fits once the URLs (http:// or https://) in it are taken out.
 * Every other line counts, including SQL and text inside multi-line template literals: those break
 * at whitespace.
 *
 *   npm run check:width
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
export const MAX_WIDTH = 120;

const STRING = String.raw`'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"`;
const TEMPLATE = String.raw`\x60(?:[^\x60\\$]|\\.|\$(?!\{))*\x60`;
// A test title may interpolate (`${RUNS} rounds`); it is still one literal.
const TITLE_TEMPLATE = String.raw`\x60(?:[^\x60\\]|\\.)*\x60`;
const REGEX = String.raw`/(?![*/])(?:[^/\\\[]|\\.|\[(?:[^\]\\]|\\.)*\])+/[a-z]*`;
const LONE_LITERAL = new RegExp(String.raw`^\s*(?:${STRING}|${TEMPLATE}|${REGEX})(?:,|;|\)[,;]?| \+)?$`);
const TEST_CALL = String.raw`^\s*(?:it|test|describe)(?:\.\w+)*\(\s*`;
const FUNCTION_HEAD = String.raw`,\s*(?:async\s*)?(?:\([^)]*\)|\w+)\s*=>\s*\{$`;
const TEST_TITLE = new RegExp(String.raw`${TEST_CALL}(?:${STRING}|${TITLE_TEMPLATE})${FUNCTION_HEAD}`);
const URL = /\bhttps?:\/\/\S+/g;

const width = (line: string): number => [...line].length;

/** Whether a line over the width is one of the documented exceptions. */
export function exempt(line: string): boolean {
  if (LONE_LITERAL.test(line) || TEST_TITLE.test(line)) return true;
  const withoutUrls = line.replace(URL, '');
  return withoutUrls !== line && width(withoutUrls) <= MAX_WIDTH;
}

/** The tracked source files the check reads, relative to the repository root. */
export function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--', '*.ts', '*.js', '*.mjs'], { cwd: ROOT, encoding: 'utf8' });
  return out
    .split('\0')
    .filter((f) => f !== '' && !f.startsWith('src/migrations/'))
    .sort();
}

/** Every line over the width that is not an exception, as file:line (width). */
export function wideLines(files: string[] = trackedFiles()): string[] {
  const found: string[] = [];
  for (const file of files) {
    readFileSync(join(ROOT, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const w = width(line);
        if (w > MAX_WIDTH && !exempt(line)) found.push(`${file}:${i + 1} (${w})`);
      });
  }
  return found;
}

if (require.main === module) {
  const files = trackedFiles();
  const found = wideLines(files);
  if (found.length === 0) {
    console.log(
      `check:width: no line over ${MAX_WIDTH} characters in ${files.length} files (exceptions: see the header)`,
    );
  } else {
    for (const line of found) console.error(line);
    console.error(`check:width: ${found.length} line(s) over ${MAX_WIDTH} characters`);
    process.exit(1);
  }
}
