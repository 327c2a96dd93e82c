/**
 * The topology of a deployment as a picture: components in columns by their channels (a
 * component stands left of the ones it requires, as traffic flows), each with its instances
 * coloured by phase and health, its node and cloud; channels as arrows, dashed when optional.
 * Instances are links (keyboard-focusable) to their detail page.
 */
import type { DeploymentSpec, DeploymentView } from './api-types';
import { href } from './router';

type Topo = DeploymentSpec['topology'];
type Instance = DeploymentView['instances'][number];

const W = 230;
const GAP = 90;
const HEAD = 46;
const ROW = 40;

/** Column of each component: 0 for those nothing requires… by the longest chain of requirements from it. */
export function columns(t: Topo): Map<string, number> {
  const requires = new Map(t.components.map((c) => [c.name, c.requires.map((r) => r.component)]));
  const depth = new Map<string, number>();
  const visit = (n: string, seen: Set<string>): number => {
    const known = depth.get(n);
    if (known !== undefined) return known;
    if (seen.has(n)) return 0;
    seen.add(n);
    // consumers of n sit left of it: n's column is one more than its deepest consumer's
    const consumers = t.components.filter((c) => (requires.get(c.name) ?? []).includes(n)).map((c) => c.name);
    const d = consumers.length === 0 ? 0 : 1 + Math.max(...consumers.map((c) => visit(c, seen)));
    depth.set(n, d);
    return d;
  };
  for (const c of t.components) visit(c.name, new Set());
  return depth;
}

function instanceState(i: Instance): string {
  if (i.phase === 'running') return i.health === 'healthy' ? 'healthy' : i.health === 'unknown' ? 'running' : i.health;
  return i.phase;
}

export function Topology({ deployment, view, topology }: { deployment: string; view: DeploymentView; topology: Topo }) {
  const col = columns(topology);
  const byCol = new Map<number, string[]>();
  for (const c of topology.components) {
    const k = col.get(c.name) ?? 0;
    byCol.set(k, [...(byCol.get(k) ?? []), c.name]);
  }
  const instancesOf = (c: string): Instance[] => view.instances.filter((i) => i.component === c);
  const height = (c: string): number => HEAD + Math.max(1, instancesOf(c).length) * ROW + 10;
  const box = new Map<string, { x: number; y: number; h: number }>();
  let maxY = 0;
  for (const [k, names] of [...byCol.entries()].sort((a, b) => a[0] - b[0])) {
    let y = 10;
    for (const n of names) {
      const h = height(n);
      box.set(n, { x: 10 + k * (W + GAP), y, h });
      y += h + 24;
    }
    maxY = Math.max(maxY, y);
  }
  const width = 20 + (Math.max(0, ...col.values()) + 1) * (W + GAP) - GAP;
  const clouds = new Map(topology.clouds.map((c) => [c.name, c.platform]));
  const counts = new Map(view.components.map((c) => [c.name, c]));
  return (
    <div class="topology-scroll">
      <svg class="topology" viewBox={`0 0 ${width} ${maxY}`} width={width} height={maxY} role="img" aria-label={`topology of ${deployment}`}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
          </marker>
        </defs>
        {topology.components.flatMap((c) => c.requires.map((r) => {
          const a = box.get(c.name);
          const b = box.get(r.component);
          if (!a || !b) return null;
          const x1 = a.x + W;
          const y1 = a.y + 22;
          const x2 = b.x;
          const y2 = b.y + 22;
          const mid = (x1 + x2) / 2;
          return (
            <g class={`channel${r.optional ? ' optional' : ''}`} data-channel={`${c.name}.${r.name}->${r.component}.${r.port}`}>
              <path d={`M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`} marker-end="url(#arrow)" />
              <text x={mid} y={Math.min(y1, y2) - 6} text-anchor="middle">{r.name}→{r.port}</text>
            </g>
          );
        }))}
        {topology.components.map((c) => {
          const b = box.get(c.name)!;
          const n = counts.get(c.name);
          const cloud = c.cloud ?? '';
          return (
            <g class="component" data-component={c.name}>
              <rect x={b.x} y={b.y} width={W} height={b.h} rx="8" />
              <text x={b.x + 10} y={b.y + 20} class="name">{c.name}</text>
              <text x={b.x + W - 10} y={b.y + 20} text-anchor="end" class="count">{n ? `${n.running}/${n.desired}` : ''}</text>
              <text x={b.x + 10} y={b.y + 37} class="sub">{c.nodeTemplate}{cloud ? ` · ${cloud} (${clouds.get(cloud) ?? '?'})` : ' · placed by requirements'}</text>
              {instancesOf(c.name).map((i, k) => {
                const y = b.y + HEAD + k * ROW;
                const s = instanceState(i);
                return (
                  <a href={href('deployments', deployment, 'instances', i.name)} data-instance={i.name} data-phase={i.phase} data-health={i.health} aria-label={`${i.name}: ${s}, node ${i.node.key} ${i.node.state} on ${i.node.cloud}`}>
                    <rect x={b.x + 8} y={y} width={W - 16} height={ROW - 6} rx="5" class={`inst s-${s}${i.desired ? '' : ' leaving'}`} />
                    <text x={b.x + 16} y={y + 14} class="iname">{i.name}</text>
                    <text x={b.x + W - 16} y={y + 14} text-anchor="end" class="iphase">{s}</text>
                    <text x={b.x + 16} y={y + 28} class="inode">{i.node.key.split('/').pop()} · {i.node.state}{i.node.address ? ` · ${i.node.address}` : ''}</text>
                  </a>
                );
              })}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
