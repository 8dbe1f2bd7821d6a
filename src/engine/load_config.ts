// Loads a recipe: a TypeScript (or JavaScript) file whose default export is a
// Config. Recipes inside this repository run from their compiled copy in
// dist/ (so they may import each other); any other .ts file, or one newer
// than its compiled copy, is transpiled on the fly with TypeScript.
import { existsSync, statSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { resolve, relative, join, dirname, extname } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { applyOverrides } from '../config/overrides.js';
import { validateConfig, type Config } from '../tasks/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

async function importDefault(file: string): Promise<unknown> {
  const mod = await import(pathToFileURL(file).href);
  return mod.default ?? mod.config;
}

export async function loadConfig(path: string, sets: string[] = []): Promise<Config> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new Error(`config: no such file '${path}'`);
  let raw: unknown;
  const ext = extname(abs);
  if (ext === '.js' || ext === '.mjs') raw = await importDefault(abs);
  else if (ext === '.ts' || ext === '.mts') {
    const rel = relative(repoRoot, abs);
    const compiled = join(repoRoot, 'dist', rel.replace(/\.m?ts$/, '.js'));
    if (!rel.startsWith('..') && existsSync(compiled) && statSync(compiled).mtimeMs >= statSync(abs).mtimeMs) raw = await importDefault(compiled);
    else {
      const ts = (await import('typescript')).default;
      const out = ts.transpileModule(readFileSync(abs, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        fileName: abs,
      });
      const dir = mkdtempSync(join(tmpdir(), 'arsenal-config-'));
      const tmp = join(dir, 'config.mjs');
      writeFileSync(tmp, out.outputText);
      try {
        raw = await importDefault(tmp);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } else throw new Error(`config: '${path}' is not a .ts or .js file`);
  if (typeof raw !== 'object' || raw === null) throw new TypeError(`config: '${path}' has no default export (export default { ... } satisfies Config)`);
  const cfg = structuredClone(raw) as Record<string, unknown>;
  applyOverrides(cfg, sets);
  validateConfig(cfg);
  return cfg;
}
