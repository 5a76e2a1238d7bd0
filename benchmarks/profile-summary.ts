// Where a CPU profile's time goes: self time by module and the functions with the most self time.
// `tsx benchmarks/profile-summary.ts <file.cpuprofile>`; catch-up.ts prints it after each profiled run.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The module a frame belongs to: a file of ours, a package, Node's internals, or V8's pseudo-frames
 *  ((garbage collector), (idle): waiting on I/O, (program): native code outside JavaScript). */
function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
}

export function summarize(profile: CpuProfile, top = 25): string {
  const total = profile.samples.length || 1;
  const ms = (profile.endTime - profile.startTime) / 1000;
  const byModule = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (!hits) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const module = moduleOf(url, functionName);
    byModule.set(module, (byModule.get(module) ?? 0) + hits);
    const name = `${functionName || '(anonymous)'} ${url ? `${module}:${lineNumber + 1}` : ''}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
  }
  const rows = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([name, hits]) => `| ${name} | ${(100 * hits / total).toFixed(1)}% | ${(ms * hits / total).toFixed(0)} |`);
  return [
    `${total} samples over ${(ms / 1000).toFixed(2)} s.`,
    '',
    '| module | self | ms |', '| --- | ---: | ---: |', ...rows(byModule, 20),
    '',
    '| function | self | ms |', '| --- | ---: | ---: |', ...rows(byFunction, top),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: tsx benchmarks/profile-summary.ts <file.cpuprofile>');
  console.log(summarize(JSON.parse(await readFile(file, 'utf8')) as CpuProfile));
}
