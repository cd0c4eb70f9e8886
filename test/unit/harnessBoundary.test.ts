/**
 * The benchmark harness and the product stay apart (loadtest/README.md, “The harness and the
 * product”): the harness (loadtest/) imports the product only through its public module,
 * schema/mod.ts; the product (bin/, cli/, node/, workers/, schema/) never imports the harness,
 * but for the one dynamic import that `affstream bench` loads it by, and never imports a package
 * the product does not depend on — so `npm ci --omit=dev` installs a product that runs. A scan of
 * the import specifiers of every source file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HARNESS_PACKAGES, missingPackages } from '../../loadtest/bench.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PUBLIC_MODULES = ['schema/mod.ts'];
const PRODUCT_DIRS = ['bin', 'cli', 'node', 'workers', 'schema'];
/** The one way into the harness from the product. */
const HARNESS_ENTRY = { file: 'cli/commands/bench.ts', target: 'loadtest/bench.ts' };

interface Import {
  /** Importing file, relative to the root. */
  file: string;
  specifier: string;
  /** `import(…)`, as opposed to a static `import … from` / `export … from` / `import '…'`. */
  dynamic: boolean;
  /** The file a relative specifier names, relative to the root; undefined for a package. */
  target?: string;
}

/** Every `.ts`/`.mjs` file under `dir` (relative to the root), node_modules and results left out. */
function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name) && !e.parentPath.includes('node_modules'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

/** The import specifiers of `file`. */
function importsOf(file: string): Import[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const found: Import[] = [];
  // `from '…'` and `import '…'` (static), `import('…')` (dynamic, also in `typeof import('…')`).
  for (const m of text.matchAll(/(?<![.\w])(?:(?:from|import)[ \t]+|import(\()[ \t]*)'([^'\s]+)'/g)) {
    const specifier = m[2] as string;
    const target = specifier.startsWith('.') ? path.relative(ROOT, path.resolve(ROOT, path.dirname(file), specifier)) : undefined;
    found.push({ file, specifier, dynamic: m[1] === '(', target });
  }
  return found;
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`); undefined for node: built-ins. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const inside = (target: string, dir: string) => target === dir || target.startsWith(`${dir}/`);
const harness = sources('loadtest').flatMap(importsOf);
const product = PRODUCT_DIRS.flatMap(sources).flatMap(importsOf);
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

describe('the harness and the product', () => {
  it('reads the imports it judges (static, dynamic, type-only) from both sides', () => {
    expect(harness).toContainEqual({ file: 'loadtest/lib/cluster.ts', specifier: '../../schema/mod.ts', dynamic: false, target: 'schema/mod.ts' });
    expect(product).toContainEqual({ file: 'cli/main.ts', specifier: './commands/up.ts', dynamic: true, target: 'cli/commands/up.ts' });
    expect(product).toContainEqual({ file: 'node/server.ts', specifier: 'uWebSockets.js', dynamic: false, target: undefined });
  });

  it('the harness imports the product only through its public module', () => {
    const outside = harness.filter((i) => i.target !== undefined && !inside(i.target, 'loadtest') && !PUBLIC_MODULES.includes(i.target));
    expect(outside.map((i) => `${i.file}: ${i.specifier}`)).toEqual([]);
  });

  it('the product imports the harness only where `affstream bench` loads it, dynamically', () => {
    const intoHarness = product.filter((i) => i.target !== undefined && inside(i.target, 'loadtest'));
    expect(intoHarness.length).toBeGreaterThan(0);
    const other = intoHarness.filter((i) => !(i.file === HARNESS_ENTRY.file && i.target === HARNESS_ENTRY.target && i.dynamic));
    expect(other.map((i) => `${i.file}: ${i.specifier}`)).toEqual([]);
  });

  it('the product imports no package it does not depend on', () => {
    const foreign = product.filter((i) => {
      const pkg = i.target === undefined ? packageOf(i.specifier) : undefined;
      return pkg !== undefined && !(pkg in manifest.dependencies);
    });
    expect(foreign.map((i) => `${i.file}: ${i.specifier}`)).toEqual([]);
  });

  it("the harness's own packages are devDependencies, and tsx, which runs the product, is a dependency", () => {
    for (const pkg of HARNESS_PACKAGES) {
      expect(manifest.devDependencies).toHaveProperty([pkg]);
      expect(manifest.dependencies).not.toHaveProperty([pkg]);
    }
    expect(manifest.dependencies).toHaveProperty(['tsx']);
    // Installed with the dev dependencies, as here: `affstream bench` runs.
    expect(missingPackages()).toEqual([]);
  });

  it('the public module is made of the contract (schema/) and the embedded servers (cli/servers.ts) alone', () => {
    const targets = importsOf('schema/mod.ts').map((i) => i.target);
    expect(targets.length).toBeGreaterThan(0);
    expect(targets.filter((t) => t === undefined || !(inside(t, 'schema') || t === 'cli/servers.ts'))).toEqual([]);
  });
});
