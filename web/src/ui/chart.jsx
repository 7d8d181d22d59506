// Time series drawn with uPlot. The colours come from the stylesheet's
// custom properties, read when the chart is made, so a chart drawn in dark
// mode matches it; a change of colour scheme redraws.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { num } from '../core/format.js';

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function useColorScheme() {
  const [dark, setDark] = useState(() => matchMedia('(prefers-color-scheme: dark)').matches);
  useEffect(() => {
    const m = matchMedia('(prefers-color-scheme: dark)');
    const f = () => setDark(m.matches);
    m.addEventListener('change', f);
    return () => m.removeEventListener('change', f);
  }, []);
  return dark;
}

function when(v, utcDays, step) {
  const d = new Date(v * 1000);
  if (utcDays) return d.toLocaleDateString(undefined, { timeZone: 'UTC' });
  return step < 86400 ? d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' }) : d.toLocaleDateString();
}

const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');

// Counts get whole-number ticks; ratios keep uPlot's own.
const WHOLE = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2500, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7];

/**
 * x: seconds since the epoch, one point per `step` seconds; series:
 * [{label, values, bars, fmt}]; `utcDays` for daily counters (days are UTC
 * days on the server).
 */
export function Chart({ title, x, series, height = 180, yFmt = num, utcDays = false, step = 86400, summary }) {
  const box = useRef(null);
  const dark = useColorScheme();

  useEffect(() => {
    const el = box.current;
    if (!el || !x.length) return undefined;
    const muted = cssVar('--text-muted') || '#777';
    const grid = cssVar('--border') || '#ddd';
    const palette = [cssVar('--accent'), cssVar('--chart-2'), cssVar('--chart-3'), cssVar('--chart-4')];
    const font = `11px ${cssVar('--font') || 'system-ui'}`;
    const axis = { stroke: muted, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 } };
    const opts = {
      width: Math.max(200, el.clientWidth),
      height,
      padding: [10, 12, 0, 4],
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      legend: { live: true },
      // Half a step either side, so the first and last bars are whole.
      scales: { x: { time: true, range: (u, min, max) => [min - step / 2, max + step / 2] }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [axis, { ...axis, size: 44, incrs: yFmt === num ? WHOLE : undefined, values: (u, vals) => vals.map((v) => yFmt(v)) }],
      series: [
        { label: utcDays ? 'Day' : 'Time', value: (u, v) => (v === null ? '—' : when(v, utcDays, step)) },
        ...series.map((s, i) => {
          const c = s.color || palette[i % palette.length] || '#5b5bd6';
          return {
            label: s.label,
            stroke: c,
            width: s.bars ? 0 : 2,
            fill: s.bars ? c : `${c}22`,
            paths: s.bars ? uPlot.paths.bars({ size: [0.6, 28], gap: 1 }) : undefined,
            points: { show: false },
            value: (u, v) => (v === null || v === undefined ? '—' : (s.fmt || yFmt)(v)),
          };
        }),
      ],
    };
    if (utcDays) opts.tzDate = utc;
    const plot = new uPlot(opts, [x, ...series.map((s) => s.values)], el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => { ro.disconnect(); plot.destroy(); };
  }, [x, series, height, dark, step]);

  return (
    <figure class="chart">
      {title && <figcaption>{title}</figcaption>}
      {x.length
        ? <div ref={box} class="chart-box" role="img" aria-label={summary || title} />
        : <p class="muted small">No data yet.</p>}
    </figure>
  );
}

/** The daily rows of the stats routes as uPlot's x (UTC midnights, seconds). */
export function dayX(rows) {
  return rows.map((r) => Date.parse(`${r.day}T00:00:00Z`) / 1000);
}
