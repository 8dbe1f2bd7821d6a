// Result tables as markdown, for the console and the work dir: one format for
// `arsenal test`, `ensemble`, `pseudo-label` and `start`. Metrics are fractions
// shown as percentages (accuracy, IoU, AP), except losses and errors (a name
// ending in loss, error, mae, mse or rmse: four decimals).

/** A markdown table: the first column left-aligned, the others right-aligned. */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const sep = `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`;
  return [`| ${header.join(' | ')} |`, sep, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** mmseg's metric names, kept as they are (also after a prefix: ttaMIoU → 'tta mIoU'). */
const MMSEG_METRIC = /(?:^|(?<=[a-z]))([mMaA])(IoU|Acc|Dice|Fscore|Precision|Recall)$/;

/** 'balancedAccuracy' → 'balanced accuracy'; 'mIoU', 'aAcc' stay; 'ttaMIoU' → 'tta mIoU'. */
export function metricLabel(name: string): string {
  const m = MMSEG_METRIC.exec(name);
  if (m) {
    const prefix = name.slice(0, m.index);
    const metric = `${m[1].toLowerCase()}${m[2]}`;
    return prefix ? `${metricLabel(prefix)} ${metric}` : metric;
  }
  return name.replace(/([a-z])([A-Z])(?=[a-z])/g, (_, a: string, b: string) => `${a} ${b.toLowerCase()}`);
}

export function formatMetric(name: string, v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (/(loss|error|mae|mse)$/i.test(name)) return v.toFixed(4);
  // A share (accuracy, IoU, AP) is never negative: pycocotools' −1 means "no ground truth in this range".
  return v < 0 ? '—' : `${(100 * v).toFixed(2)}%`;
}

/** A table of named rows of metrics: `| <first> | metric… |`, the metrics of the first row giving the columns. */
export function metricsTable(first: string, rows: { name: string; metrics: Record<string, number> }[]): string {
  const keys = Object.keys(rows[0]?.metrics ?? {});
  return markdownTable([first, ...keys.map(metricLabel)], rows.map((r) => [r.name, ...keys.map((k) => formatMetric(k, r.metrics[k]))]));
}
