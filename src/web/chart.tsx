/** A uPlot line chart of a range query's series (one line per label set), sized to its box. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Series {
  label: string;
  points: [number, number | null][];
}

const COLOURS = ['#2a6fdb', '#d9480f', '#2b8a3e', '#ae3ec9', '#e67700', '#0b7285', '#c2255c', '#5f3dc4'];

/** Aligns series on the union of their timestamps (seconds), null where one has no point. */
export function align(series: Series[]): uPlot.AlignedData {
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = series.map((s) => {
    const col: (number | null)[] = new Array<number | null>(times.length).fill(null);
    for (const [t, v] of s.points) col[index.get(t)!] = v;
    return col;
  });
  return [times, ...columns] as uPlot.AlignedData;
}

export function Chart({ series, title, range }: { series: Series[]; title: string; range: [number, number] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = (): number => Math.max(280, el.clientWidth);
    const plot = new uPlot({
      title, width: width(), height: 300,
      // the x axis is the window asked for, whatever the data covers (one point alone would stretch it)
      scales: { x: { time: true, range: () => range } },
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length]!, width: 1.5, spanGaps: false }))],
      axes: [{}, { size: 60 }],
      legend: { live: true },
    }, align(series), el);
    const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: 300 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [series, title, range[0], range[1]]);
  return <div class="chart" ref={box} role="img" aria-label={`graph: ${title}`} data-series={series.length} />;
}
