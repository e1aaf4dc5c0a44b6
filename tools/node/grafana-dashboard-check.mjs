// Type-checks Grafana dashboard JSON files against Grafana's published
// schema, the TypeScript types of the npm package @grafana/schema (the
// dashboard model, and each stat/table/timeseries panel's options and field
// config against its plugin's types), with the TypeScript compiler: every
// field must exist and hold a value of its type (excess properties are
// errors, as in an object literal).
//
//   node tools/node/grafana-dashboard-check.mjs FILE.json…
//
// Prints "ok FILE" per file, or the compiler's messages and exits 1.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = path.dirname(fileURLToPath(import.meta.url));
const raw = '@grafana/schema/dist/types/raw/composable';
const plugins = {
  stat: { options: `import('${raw}/stat/panelcfg/x/types.gen').Options` },
  table: {
    options: `import('${raw}/table/panelcfg/x/types.gen').Options`,
    custom: `import('${raw}/table/panelcfg/x/types.gen').FieldConfig`,
  },
  timeseries: {
    options: `import('${raw}/timeseries/panelcfg/x/types.gen').Options`,
    custom: `import('${raw}/timeseries/panelcfg/x/types.gen').FieldConfig`,
  },
};

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: grafana-dashboard-check.mjs FILE.json…');
  process.exit(2);
}
let failed = false;
for (const file of files) {
  const dashboard = JSON.parse(fs.readFileSync(file, 'utf8'));
  // JSON holds an enum's value, not the enum: Json<T> is T with every
  // string enum as the union of its values (numeric enums take numbers).
  let source = `import type { Dashboard, Panel } from '@grafana/schema';
type Json<T> = T extends string ? (string extends T ? string : \`\${T}\`)
  : T extends number | boolean | null | undefined ? T
  : T extends Array<infer U> ? Array<Json<U>>
  : T extends object ? { [K in keyof T]: Json<T[K]> } : T;
// A panel's options as saved: Grafana fills in what is left out.
type Loose<T> = T extends string ? (string extends T ? string : \`\${T}\`)
  : T extends number | boolean | null | undefined ? T
  : T extends Array<infer U> ? Array<Loose<U>>
  : T extends object ? { [K in keyof T]?: Loose<T[K]> } : T;
`;
  source += `export const dashboard: Json<Dashboard> = ${JSON.stringify(dashboard, null, 2)};\n`;
  (dashboard.panels || []).forEach((p, i) => {
    const plugin = plugins[p.type];
    if (!plugin) {
      source += `throw new Error('panel ${i}: no types for plugin ${String(p.type).replace(/\W/g, '')}');\n`;
      return;
    }
    const custom = plugin.custom || 'Record<string, unknown>';
    // (Panel's options parameter is unused by @grafana/schema's Panel type.)
    source += `export const panel${i}: Json<Omit<Panel<${plugin.options}, ${custom}>, 'options'>> & { options?: Loose<${plugin.options}> } = ${JSON.stringify(p, null, 2)};\n`;
  });
  if (!(dashboard.panels || []).every((p) => plugins[p.type])) {
    console.error(`${file}: a panel of a type this check has no types for`);
    failed = true;
    continue;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-check-'));
  const ts_file = path.join(dir, 'dashboard.ts');
  fs.writeFileSync(ts_file, source);
  const program = ts.createProgram([ts_file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    typeRoots: [],
    types: [],
    baseUrl: here,
    paths: { '*': [path.join(here, 'node_modules', '*')] },
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length > 0) {
    failed = true;
    for (const d of diagnostics) {
      const where = d.file && d.start !== undefined
        ? `line ${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
      console.error(`${file}: ${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
  } else {
    console.log(`ok ${file}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
