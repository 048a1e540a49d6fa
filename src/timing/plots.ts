import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as echarts from 'echarts';
import { writeFileAtomic } from '../files.js';
import type { JobTime } from './timing.js';

const WIDTH = 900;
const HEIGHT = 480;
const BINS = 20;

/** A chart drawn by ECharts on the server (no browser, no canvas) as an SVG document. */
function svgOf(option: echarts.EChartsOption): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: WIDTH, height: HEIGHT });
  try {
    chart.setOption({ animation: false, backgroundColor: '#ffffff', ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

function push(groups: Map<string, number[]>, key: string, value: number): void {
  const group = groups.get(key);
  if (group === undefined) groups.set(key, [value]);
  else group.push(value);
}

const round = (value: number) =>
  value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toPrecision(2);

/** Histogram of time per event, one series per module, over shared bins. */
export function timePerEventChart(times: readonly JobTime[]): string {
  const perModule = new Map<string, number[]>();
  for (const time of times) {
    if (time.status !== 'completed' || time.wallSeconds === null || time.events === null || time.events <= 0) continue;
    push(perModule, time.module, time.wallSeconds / time.events);
  }
  let top = 0;
  for (const values of perModule.values()) for (const value of values) top = Math.max(top, value);
  top ||= 1;
  const width = top / BINS;
  const bins = Array.from({ length: BINS }, (_, index) => `${round(index * width)}–${round((index + 1) * width)}`);
  const series = [...perModule.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([module, values]) => {
      const counts = new Array<number>(BINS).fill(0);
      for (const value of values)
        counts[Math.min(BINS - 1, Math.floor(value / width))] =
          (counts[Math.min(BINS - 1, Math.floor(value / width))] ?? 0) + 1;
      return { type: 'bar' as const, name: module, data: counts, barGap: '0%' };
    });
  return svgOf({
    title: { text: 'Time per event, by module', left: 'center', top: 8 },
    legend: { top: 42 },
    grid: { top: 90, left: 60, right: 30, bottom: 70 },
    xAxis: {
      type: 'category',
      data: bins,
      name: 'seconds per event',
      nameLocation: 'middle',
      nameGap: 50,
      axisLabel: { rotate: 40 },
    },
    yAxis: { type: 'value', name: 'jobs', minInterval: 1 },
    series,
  });
}

/** Wall time of completed jobs at each site, as box plots (min, quartiles, max). */
export function wallBySiteChart(times: readonly JobTime[]): string {
  const perSite = new Map<string, number[]>();
  for (const time of times)
    if (time.status === 'completed' && time.wallSeconds !== null) push(perSite, time.site, time.wallSeconds);
  const sites = [...perSite.keys()].sort();
  const quartiles = sites.map((site) => {
    const sorted = [...(perSite.get(site) ?? [])].sort((a, b) => a - b);
    const at = (fraction: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(fraction * (sorted.length - 1) + 0.5))] ?? 0;
    return [sorted[0] ?? 0, at(0.25), at(0.5), at(0.75), sorted.at(-1) ?? 0];
  });
  return svgOf({
    title: { text: 'Wall time of completed jobs, by site', left: 'center' },
    grid: { top: 60, left: 70, right: 30, bottom: 50 },
    xAxis: { type: 'category', data: sites, name: 'site', nameLocation: 'middle', nameGap: 30 },
    yAxis: { type: 'value', name: 'seconds' },
    series: [{ type: 'boxplot', name: 'wall time', data: quartiles }],
  });
}

/** Writes both plots into `dir`; returns their paths. */
export function writePlots(dir: string, times: readonly JobTime[]): string[] {
  mkdirSync(dir, { recursive: true });
  const plots: Array<[string, string]> = [
    ['time-per-event.svg', timePerEventChart(times)],
    ['wall-time-by-site.svg', wallBySiteChart(times)],
  ];
  return plots.map(([name, svg]) => {
    const path = join(dir, name);
    writeFileAtomic(path, svg);
    return path;
  });
}
