// A stacked bar chart of costs per period (by provider or by feature), drawn
// by Chart.js (bundled, tree-shaken to the bar chart), with a legend that
// carries each key's exact total. Bar heights are pixels, so the chart
// reads the cost strings as numbers; every amount shown as text comes from
// the strings themselves.
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from "chart.js";
import { useEffect, useRef } from "preact/hooks";
import { useI18n } from "../i18n.js";
import { formatMoney } from "../money.js";
import { Money } from "./money.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

/** The same colours as .swatch-N in styles.css. */
export const PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#f97316", "#64748b"];

export interface CostSeries {
  key: string;
  /** One decimal string per period label. */
  values: string[];
  total: string;
}

export function CostChart(props: { title: string; testId: string; labels: string[]; series: CostSeries[] }) {
  const { numberLocale, t } = useI18n();
  const canvas = useRef<HTMLCanvasElement>(null);
  const summary = `${props.title}: ${props.series.map((s) => `${s.key} ${formatMoney(s.total, numberLocale).text}`).join(", ") || t("noUsage")}`;

  useEffect(() => {
    if (!canvas.current) return;
    const money = (value: string) => {
      const f = formatMoney(value, numberLocale);
      return f.exact ?? f.text;
    };
    const chart = new Chart(canvas.current, {
      type: "bar",
      data: {
        labels: props.labels,
        datasets: props.series.map((s, i) => ({
          label: s.key,
          data: s.values.map(Number),
          backgroundColor: PALETTE[i % PALETTE.length],
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { stacked: true, grid: { display: false } },
          y: {
            stacked: true,
            beginAtZero: true,
            ticks: { callback: (v) => new Intl.NumberFormat(numberLocale, { maximumFractionDigits: 2 }).format(Number(v)) },
          },
        },
        plugins: {
          tooltip: {
            callbacks: { label: (item) => `${item.dataset.label}: ${money(props.series[item.datasetIndex].values[item.dataIndex])}` },
          },
        },
      },
    });
    return () => chart.destroy();
  }, [props.labels, props.series, numberLocale]);

  return (
    <figure class="chart" data-testid={props.testId}>
      <figcaption>{props.title}</figcaption>
      <div class="chart-box">
        <canvas ref={canvas} role="img" aria-label={summary} />
      </div>
      <ul class="legend">
        {props.series.map((s, i) => (
          <li key={s.key} data-key={s.key}>
            <span class={`swatch swatch-${i % PALETTE.length}`} aria-hidden="true" />
            <span class="key">{s.key}</span> <Money value={s.total} />
          </li>
        ))}
      </ul>
    </figure>
  );
}
