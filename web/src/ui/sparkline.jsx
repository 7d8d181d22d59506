// A tiny bar chart for table rows: plain SVG, because the endpoints list
// may hold dozens of them and uPlot per row would be heavy.
export function Sparkline({ values, label, width = 100, height = 24 }) {
  if (!values || !values.length) return <span class="muted small">—</span>;
  const max = Math.max(1, ...values);
  const w = width / values.length;
  return (
    <svg class="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      {values.map((v, i) => {
        const h = v > 0 ? Math.max(2, (v / max) * (height - 2)) : 1;
        return <rect key={i} x={i * w + 1} y={height - h} width={Math.max(1, w - 2)} height={h} class={v > 0 ? 'on' : 'off'} />;
      })}
    </svg>
  );
}
