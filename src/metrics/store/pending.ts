/**
 * Samples appended by series id and not yet in their series' heads, in arrival order. A
 * receiver that names many series in turn (10,000 round-robin) would otherwise write each
 * sample into a different head, each a cache miss; here appends are sequential writes, and a
 * settle groups a batch by series (a stable counting sort, so each series keeps its arrival
 * order) and hands each series its run at once: each head is touched once per batch.
 */

/** Rows a batch holds before it is settled. */
export const PENDING_ROWS = 1 << 17;

export class PendingRows {
  private readonly ids = new Int32Array(PENDING_ROWS);
  private readonly ts = new Float64Array(PENDING_ROWS);
  private readonly vs = new Float64Array(PENDING_ROWS);
  /** The batch grouped by series (settle's output). */
  private readonly sortedT = new Float64Array(PENDING_ROWS);
  private readonly sortedV = new Float64Array(PENDING_ROWS);
  /** Per series id: rows in the batch, then where its run starts/ends (0 between settles). */
  private counts = new Int32Array(1024);
  /** The batch's distinct ids, in first-arrival order. */
  private readonly distinct = new Int32Array(PENDING_ROWS);
  n = 0;

  /** Room left before the batch must be settled. */
  get room(): number {
    return PENDING_ROWS - this.n;
  }

  /** Adds rows [from, from + k) of the arrays (k ≤ room). */
  add(ids: readonly number[], t: Float64Array, v: Float64Array, from: number, k: number): void {
    let p = this.n;
    for (let i = from; i < from + k; i++, p++) {
      this.ids[p] = ids[i]!;
      this.ts[p] = t[i]!;
      this.vs[p] = v[i]!;
    }
    this.n = p;
  }

  /**
   * Empties the batch: `take(id, ts, vs, from, to)` once per series id in it, its points in
   * arrival order at [from, to) of `ts`/`vs` (valid during the call only).
   */
  settle(take: (id: number, ts: Float64Array, vs: Float64Array, from: number, to: number) => void): void {
    const n = this.n;
    if (n === 0) return;
    const ids = this.ids;
    let counts = this.counts;
    let d = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      if (id >= counts.length) {
        let cap = counts.length * 2;
        while (cap <= id) cap *= 2;
        const c = new Int32Array(cap);
        c.set(counts);
        this.counts = counts = c;
      }
      const c = counts[id]!;
      counts[id] = c + 1;
      if (c === 0) this.distinct[d++] = id;
    }
    let off = 0;
    for (let k = 0; k < d; k++) {
      const id = this.distinct[k]!;
      const c = counts[id]!;
      counts[id] = off;
      off += c;
    }
    const st = this.sortedT;
    const sv = this.sortedV;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      const j = counts[id]!;
      counts[id] = j + 1;
      st[j] = this.ts[i]!;
      sv[j] = this.vs[i]!;
    }
    this.n = 0;
    off = 0;
    for (let k = 0; k < d; k++) {
      const id = this.distinct[k]!;
      const end = counts[id]!;
      counts[id] = 0;
      take(id, st, sv, off, end);
      off = end;
    }
  }
}
