/**
 * Small SVG plots (no chart library): a line or bar series over x, with axis labels and a
 * table-like text alternative for screen readers.
 */
export interface Point {
  x: number;
  y: number;
}

interface PlotProps {
  title: string;
  points: Point[];
  kind?: "line" | "bar";
  formatX?: (x: number) => string;
  formatY?: (y: number) => string;
  empty?: string;
}

const W = 320;
const H = 140;
const PAD = { left: 44, right: 8, top: 8, bottom: 22 };

export function Plot({ title, points, kind = "line", formatX = String, formatY = String, empty = "No data yet." }: PlotProps) {
  if (points.length === 0) {
    return (
      <figure class="plot">
        <figcaption>{title}</figcaption>
        <p class="muted">{empty}</p>
      </figure>
    );
  }
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const minX = Math.min(...xs);
  const maxX = Math.max(...xs);
  const maxY = Math.max(...ys, 0);
  const minY = Math.min(...ys, 0);
  const spanX = maxX - minX || 1;
  const spanY = maxY - minY || 1;
  const px = (x: number) => PAD.left + ((x - minX) / spanX) * (W - PAD.left - PAD.right);
  const py = (y: number) => H - PAD.bottom - ((y - minY) / spanY) * (H - PAD.top - PAD.bottom);
  const last = points[points.length - 1]!;
  const summary = `${title}: ${points.length} points, latest ${formatY(last.y)} at ${formatX(last.x)}, highest ${formatY(maxY)}.`;
  const barWidth = Math.max(2, (W - PAD.left - PAD.right) / points.length - 2);
  return (
    <figure class="plot">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary}>
        <line class="axis" x1={PAD.left} y1={H - PAD.bottom} x2={W - PAD.right} y2={H - PAD.bottom} />
        <line class="axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={H - PAD.bottom} />
        <text class="tick" x={PAD.left - 4} y={PAD.top + 8} text-anchor="end">
          {formatY(maxY)}
        </text>
        <text class="tick" x={PAD.left - 4} y={H - PAD.bottom} text-anchor="end">
          {formatY(minY)}
        </text>
        <text class="tick" x={PAD.left} y={H - 6}>
          {formatX(minX)}
        </text>
        <text class="tick" x={W - PAD.right} y={H - 6} text-anchor="end">
          {formatX(maxX)}
        </text>
        {kind === "line" ? (
          <polyline class="series" points={points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(" ")} />
        ) : (
          points.map((p) => (
            <rect
              class="bar"
              x={px(p.x) - (points.length === 1 ? 0 : barWidth / 2)}
              y={py(Math.max(p.y, 0))}
              width={barWidth}
              height={Math.abs(py(p.y) - py(0))}
            />
          ))
        )}
      </svg>
    </figure>
  );
}
