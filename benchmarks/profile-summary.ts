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
  if (url.startsWith('node:')) return url;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
}

const IDLE = '(idle)';

/** Self time of modules and functions as shares of the busy samples: idle ones are time spent waiting (for the
 *  target, the source, the disk), said once in the first line. */
export function summarize(profile: CpuProfile, top = 25): string {
  const ms = (profile.endTime - profile.startTime) / 1000;
  const perSample = ms / (profile.samples.length || 1);
  const byModule = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (!hits) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const module = moduleOf(url, functionName);
    byModule.set(module, (byModule.get(module) ?? 0) + hits);
    // Files loaded through tsx have no useful line numbers in a profile; the function name says enough.
    const where = url.startsWith('node:') ? `${module}:${lineNumber + 1}` : url ? module : '';
    const name = `${functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
  }
  const idle = byModule.get(IDLE) ?? 0;
  byModule.delete(IDLE);
  byFunction.delete(IDLE);
  const busy = profile.samples.length - idle || 1;
  const rows = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([name, hits]) => `| ${name} | ${(100 * hits / busy).toFixed(1)}% | ${(perSample * hits).toFixed(0)} |`);
  return [
    `${profile.samples.length} samples over ${(ms / 1000).toFixed(2)} s: busy ${(perSample * busy / 1000).toFixed(2)} s, `
      + `idle (waiting for the target, the source or the disk) ${(perSample * idle / 1000).toFixed(2)} s.`,
    '',
    '| module | share of busy | ms |', '| --- | ---: | ---: |', ...rows(byModule, 20),
    '',
    '| function | share of busy | ms |', '| --- | ---: | ---: |', ...rows(byFunction, top),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: tsx benchmarks/profile-summary.ts <file.cpuprofile>');
  console.log(summarize(JSON.parse(await readFile(file, 'utf8')) as CpuProfile));
}
