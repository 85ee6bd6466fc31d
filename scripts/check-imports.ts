/**
 * Fails when the value imports among src files form a cycle. Type-only imports are left out (they
 * vanish at compile time), and so is an entity paired with the repository it declares in
 * `@Entity({ repository: () => FooRepository })`, in the same folder: MikroORM's idiom ties them
 * together. Prints each cycle it finds, as a strongly connected component of the import graph.
 *
 *   npm run check:imports
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(__dirname, '..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The module a relative specifier names, as a file path; null for packages and missing files. */
function resolveSpecifier(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const base = resolve(dirname(from), specifier);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts'), base]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return null;
}

/** Whether an import or export declaration brings values at run time (not `import type`, not all `{ type X }`). */
function carriesValues(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isImportDeclaration(node)) {
    const clause = node.importClause;
    if (!clause) return true; // a side-effect import
    if (clause.isTypeOnly) return false;
    if (clause.name) return true;
    const bindings = clause.namedBindings;
    if (!bindings || ts.isNamespaceImport(bindings)) return true;
    return bindings.elements.length === 0 || bindings.elements.some((e) => !e.isTypeOnly);
  }
  if (node.isTypeOnly) return false;
  const clause = node.exportClause;
  return !clause || !ts.isNamedExports(clause) || clause.elements.some((e) => !e.isTypeOnly);
}

/** The files `file` imports (or re-exports) for their values; dynamic import() is lazy and left out. */
export function valueImports(file: string, text: string = readFileSync(file, 'utf8')): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const targets: string[] = [];
  for (const node of source.statements) {
    if (!(ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) || !node.moduleSpecifier) continue;
    if (!ts.isStringLiteral(node.moduleSpecifier) || !carriesValues(node)) continue;
    const target = resolveSpecifier(file, node.moduleSpecifier.text);
    if (target) targets.push(target);
  }
  return targets;
}

/** The repository class an entity names in `@Entity({ repository: () => X })`, if any. */
const repositoryOf = (entityFile: string): string | null =>
  /repository:\s*\(\)\s*=>\s*(\w+)/.exec(readFileSync(entityFile, 'utf8'))?.[1] ?? null;

/** An entity and the repository it declares, in one folder: MikroORM's idiom ties them together. */
const isOwnRepositoryPair = (a: string, b: string) =>
  dirname(a) === dirname(b) && (repositoryOf(a) === basename(b, '.ts') || repositoryOf(b) === basename(a, '.ts'));

/** Tarjan's strongly connected components with more than one file: the cycles. */
export function importCycles(files: string[]): string[][] {
  const edges = new Map(files.map((f) => [f, valueImports(f).filter((t) => t !== f && !isOwnRepositoryPair(f, t))]));
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const f of files) if (!indices.has(f)) visit(f);
  return cycles;
}

/** Every TypeScript source file under src/. */
export const srcFiles = (): string[] => sourceFiles(SRC);

if (require.main === module) {
  const files = srcFiles();
  const cycles = importCycles(files);
  if (cycles.length === 0) {
    console.log(
      `check:imports: no import cycle among ${files.length} src files (type-only imports and entity/own-repository ` +
        `pairs excepted)`,
    );
  } else {
    for (const cycle of cycles)
      console.error(`cycle of ${cycle.length} files:\n  ${cycle.map((f) => relative(ROOT, f)).join('\n  ')}`);
    console.error(`check:imports: ${cycles.length} cycle(s) among ${files.length} src files`);
    process.exit(1);
  }
}
