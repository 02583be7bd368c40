/**
 * Renders the dashboard's panels (operator/metrics/dashboard.ts), filled with the results of range
 * queries on a real Prometheus, to one SVG image (vega-lite -> vega, headless), and the SVG to PNG
 * (resvg, WebAssembly; text in DejaVu Sans from the Debian package fonts-dejavu-core).
 *
 * Grafana itself is not used: it is AGPL-3.0 licensed (not allowed in this project) and is in
 * none of the package registries this project installs from. The image shows the same queries,
 * grouped in the same rows, one line chart per panel; test/integration/prometheus.test.ts makes
 * docs/dashboard.svg and docs/dashboard.png with ENTROPO_DASHBOARD_OUT=docs.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One panel's data: its row and title, Grafana unit, and series of [unix seconds, value] points. */
export interface PanelData {
  row: string;
  title: string;
  unit: string;
  series: Array<{ name: string; points: Array<[number, number]> }>;
}

const PANEL_WIDTH = 300;
const PANEL_HEIGHT = 130;
const PER_LINE = 3;

const yTitle = (unit: string) => ({ s: 'seconds', ops: 'per second', percentunit: 'fraction', short: '' })[unit] ?? unit;

function panelSpec(p: PanelData): Record<string, unknown> {
  const values = p.series.flatMap((s) => s.points.filter(([, y]) => Number.isFinite(y)).map(([x, y]) => ({ t: x * 1000, v: y, series: s.name || p.title })));
  const title = { text: p.title, fontSize: 12, anchor: 'start' };
  if (values.length === 0) {
    // every value NaN (a quantile of no observations in its window) or no point at all
    return { title, width: PANEL_WIDTH, height: PANEL_HEIGHT, data: { values: [{ text: 'no finite value in this window' }] }, mark: { type: 'text', color: '#888' }, encoding: { text: { field: 'text' } } };
  }
  // a flat line (all values equal, e.g. no errors) gets a visible range instead of a [v, v] domain
  const ys = values.map((x) => x.v);
  const [lo, hi] = [Math.min(...ys), Math.max(...ys)];
  const flat = lo === hi ? { domain: lo === 0 ? [0, 1] : [Math.min(0, lo * 2), Math.max(0, hi * 2)] } : { zero: lo >= 0 };
  return {
    title,
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.5, interpolate: 'step-after', point: values.length < 40 ? { size: 12 } : false },
    encoding: {
      x: { field: 't', type: 'temporal', title: null, axis: { format: '%H:%M:%S', labelFontSize: 9, tickCount: 4 } },
      y: { field: 'v', type: 'quantitative', title: yTitle(p.unit), scale: flat, axis: { labelFontSize: 9, titleFontSize: 9, format: p.unit === 'percentunit' ? '.0%' : '~s' } },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', labelFontSize: 9, columns: 3, symbolSize: 40, labelLimit: 140 } },
    },
  };
}

/** The panels, row by row (three per line), as one vega-lite spec. */
export function dashboardSpec(panels: PanelData[], opts: { title: string }): TopLevelSpec {
  const rows: string[] = [...new Set(panels.map((p) => p.row))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: opts.title, fontSize: 15, anchor: 'start' },
    config: { font: 'DejaVu Sans', view: { stroke: '#ddd' }, background: 'white', concat: { spacing: 18 } },
    resolve: { scale: { color: 'independent' } },
    vconcat: rows.map((row) => {
      const ps = panels.filter((p) => p.row === row);
      const lines: PanelData[][] = [];
      for (let i = 0; i < ps.length; i += PER_LINE) lines.push(ps.slice(i, i + PER_LINE));
      return {
        title: { text: row, fontSize: 14, anchor: 'start', color: '#1f60c4' },
        resolve: { scale: { color: 'independent' } },
        vconcat: lines.map((line) => ({ hconcat: line.map(panelSpec), resolve: { scale: { color: 'independent' } } })),
      };
    }),
  } as unknown as TopLevelSpec;
}

/** The SVG text of the panels (headless vega view, no canvas). */
export async function renderDashboardSvg(panels: PanelData[], opts: { title: string }): Promise<string> {
  const { spec } = compile(dashboardSpec(panels, opts));
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
let wasmReady: Promise<void> | undefined;

/** The SVG rasterised to PNG (resvg-wasm) at `scale`; throws if the DejaVu font is missing. */
export async function svgToPng(svg: string, scale = 1.5): Promise<Buffer> {
  const resvg = await import('@resvg/resvg-wasm');
  const require = createRequire(import.meta.url);
  wasmReady ??= resvg.initWasm(readFileSync(require.resolve('@resvg/resvg-wasm/index_bg.wasm')));
  await wasmReady;
  let font: Uint8Array;
  try {
    font = readFileSync(FONT);
  } catch (e) {
    throw new Error(`${FONT}: ${(e as Error).message} (install the Debian package fonts-dejavu-core: .ci/apt-packages.txt)`);
  }
  const r = new resvg.Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, font: { fontBuffers: [font], defaultFontFamily: 'DejaVu Sans', loadSystemFonts: false } });
  return Buffer.from(r.render().asPng());
}
