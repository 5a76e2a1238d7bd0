// What `npm pack` ships: the built library and the `tributary` command (prepack builds, so the package is
// never empty), source maps whose sources are in the package, and runtime dependencies that runtime code uses.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { before, test } from 'node:test';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface PackageJson {
  bin: Record<string, string>;
  main: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

let files: Set<string>;
let pkg: PackageJson;

before(async () => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts=false'], { cwd: ROOT, maxBuffer: 16 << 20 });
  const [packed] = JSON.parse(stdout) as { files: { path: string }[] }[];
  files = new Set(packed!.files.map((f) => f.path));
  pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
});

test('the package holds the built library and the tributary command', async () => {
  assert.ok(files.has(normalize(pkg.main)), pkg.main);
  assert.equal(pkg.bin.tributary, './dist/cli/main.js');
  assert.ok(files.has('dist/cli/main.js'));
  const main = await readFile(join(ROOT, 'dist/cli/main.js'), 'utf8');
  assert.match(main, /^#!\/usr\/bin\/env node\n/);
  const { stdout } = await run(process.execPath, [join(ROOT, 'dist/cli/main.js'), '--help']);
  assert.match(stdout, /^Usage: tributary <command>/);
  assert.ok(![...files].some((f) => f.startsWith('test/')), 'no tests in the package');
});

test('every source map resolves to a source in the package', async () => {
  const maps = [...files].filter((f) => f.endsWith('.js.map'));
  assert.ok(maps.length > 10);
  for (const map of maps) {
    const { sources } = JSON.parse(await readFile(join(ROOT, map), 'utf8')) as { sources: string[] };
    for (const source of sources) {
      const resolved = relative(ROOT, join(ROOT, dirname(map), source));
      assert.ok(files.has(resolved), `${map} names ${source} (${resolved}), which is not in the package`);
    }
  }
});

test('runtime dependencies are the packages runtime code imports', async () => {
  const sources = (await readdir(join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
  const text = (await Promise.all(sources.map((f) => readFile(join(ROOT, 'src', f), 'utf8')))).join('\n');
  const imported = new Set([...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom '([^'.][^']*)'/gm)].map(([, spec]) => {
    const parts = spec!.split('/');
    return spec!.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  }).filter((name) => !name.startsWith('node:')));
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), [...imported].sort());
  assert.ok(pkg.devDependencies['@vlasky/zongji'], 'zongji cross-checks the decoder in tests only');
});
