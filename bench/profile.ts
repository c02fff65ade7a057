import { readFile } from 'node:fs/promises';

/*
 * Reads a V8 CPU profile (the inspector's Profiler.stop result, same format as --cpu-prof) of the
 * server's main thread and says where its busy time went: by package or source area (self time,
 * with native frames labelled by the JavaScript that called them), and the top functions by self
 * and by inclusive time.
 */

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface Share {
  readonly name: string;
  readonly ms: number;
  /** Of the busy (non-idle) time. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly wallMs: number;
  readonly busyMs: number;
  readonly idleMs: number;
  readonly byCategory: readonly Share[];
  readonly topSelf: readonly Share[];
  readonly topInclusive: readonly Share[];
  /** Inclusive time of Latchkey's own functions (src/), where its request handling spends. */
  readonly topInclusiveSource: readonly Share[];
}

const SPECIAL: Readonly<Record<string, string>> = {
  '(garbage collector)': 'V8 garbage collector',
  '(program)': 'V8/native outside JS (program)',
  '(root)': 'V8/native outside JS (program)',
};

/** `…/node_modules/@scope/pkg/…` → `@scope/pkg`; `…/src/adapters/store/x.ts` → `src/adapters/store`; `node:internal/http…` → `node:http`. */
export function categoryOf(url: string): string | null {
  // Native frames, and the bench's own SQL probe (a thin wrapper), take their caller's category.
  if (url === '' || url.endsWith('/bench/sql-probe.ts')) return null;
  const modules = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (modules?.[1]) return modules[1];
  const source = /\/(src\/[^/]+\/[^/]+)\//.exec(url) ?? /\/(src\/[^/]+)\//.exec(url);
  if (source?.[1]) return source[1];
  if (url.includes('/bench/')) return 'bench (server harness)';
  if (url.startsWith('node:')) {
    const internal = /^node:internal\/(?:deps\/)?([^/]+)/.exec(url);
    return `node:${internal?.[1]?.replace(/\.js$/, '').replace(/^(_http_\w+)$/, 'http') ?? url.slice(5)}`;
  }
  return 'other';
}

const shortUrl = (url: string): string => url.replace(/^.*\/node_modules\//, '').replace(/^.*\/(src|bench)\//, '$1/').replace(/^file:\/\//, '');
const label = (frame: CallFrame): string => `${frame.functionName || '(anonymous)'} ${frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '(native)'}`;

function top(map: Map<string, number>, busyMs: number, count: number): Share[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
}

export function summariseProfile(profile: CpuProfile, count = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

  /** A node's category; a native frame takes its nearest JavaScript caller's, labelled as native. */
  const categoryCache = new Map<number, string>();
  const categoryOfNode = (id: number): string => {
    const cached = categoryCache.get(id);
    if (cached !== undefined) return cached;
    const node = byId.get(id);
    let result = 'other';
    if (node) {
      const special = SPECIAL[node.callFrame.functionName];
      const own = categoryOf(node.callFrame.url);
      if (special && node.callFrame.url === '') result = special;
      else if (own !== null) result = own;
      else if (node.callFrame.url !== '') result = categoryOfNode(parentOf.get(id) ?? -1);
      else {
        let parent = parentOf.get(id);
        let caller: string | null = null;
        while (parent !== undefined && caller === null) {
          caller = categoryOf(byId.get(parent)?.callFrame.url ?? '');
          parent = parentOf.get(parent);
        }
        result = `${caller ?? 'V8'} → native ${node.callFrame.functionName || '(anonymous)'}`;
      }
    }
    categoryCache.set(id, result);
    return result;
  };

  const selfByCategory = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  const inclusiveByFunction = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += delta;
      return;
    }
    busyUs += delta;
    const category = categoryOfNode(id);
    selfByCategory.set(category, (selfByCategory.get(category) ?? 0) + delta);
    const self = label(node.callFrame);
    selfByFunction.set(self, (selfByFunction.get(self) ?? 0) + delta);
    // Inclusive: every distinct function on the stack gets the sample once (recursion counted once).
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current)) {
      const frame = byId.get(current)?.callFrame;
      if (!frame || frame.functionName === '(root)') continue;
      const name = label(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusiveByFunction.set(name, (inclusiveByFunction.get(name) ?? 0) + delta);
    }
  });
  const busyMs = busyUs / 1000;
  const toMs = (map: Map<string, number>): Map<string, number> => new Map([...map].map(([key, value]) => [key, value / 1000]));
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs,
    idleMs: idleUs / 1000,
    byCategory: top(toMs(selfByCategory), busyMs, count),
    topSelf: top(toMs(selfByFunction), busyMs, count),
    topInclusive: top(toMs(inclusiveByFunction), busyMs, count + 10),
    topInclusiveSource: top(toMs(new Map([...inclusiveByFunction].filter(([name]) => / src\//.test(name)))), busyMs, count + 10),
  };
}

export async function readProfile(file: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
}
