// A small validation schema for plain-data configs: each check throws a
// TypeError naming the path of the wrong key or value and what was expected
// (`config: optimizer.momentun: unknown key (expected one of …)`).
export type Check = (v: unknown, path: string) => void;
export type Shape = { [key: string]: { check: Check; required?: boolean } };

export const fail = (path: string, msg: string): never => {
  throw new TypeError(`${path}: ${msg}`);
};
export const show = (v: unknown) => JSON.stringify(v) ?? String(v);
export const num = (min = -Infinity, max = Infinity, integer = false): Check => (v, p) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(p, `expected a number, got ${show(v)}`);
  if (integer && !Number.isInteger(v)) fail(p, `expected an integer, got ${show(v)}`);
  if ((v as number) < min || (v as number) > max) fail(p, `expected a value in [${min}, ${max}], got ${show(v)}`);
};
export const oneOf = (...xs: unknown[]): Check => (v, p) => {
  if (!xs.includes(v)) fail(p, `expected one of ${xs.map(show).join(', ')}, got ${show(v)}`);
};
export const str: Check = (v, p) => { if (typeof v !== 'string' || v === '') fail(p, `expected a non-empty string, got ${show(v)}`); };
export const bool: Check = (v, p) => { if (typeof v !== 'boolean') fail(p, `expected true or false, got ${show(v)}`); };
export const arr = (item: Check, len?: number): Check => (v, p) => {
  if (!Array.isArray(v)) fail(p, `expected an array, got ${show(v)}`);
  if (len !== undefined && (v as unknown[]).length !== len) fail(p, `expected ${len} values, got ${(v as unknown[]).length}`);
  (v as unknown[]).forEach((x, i) => item(x, `${p}[${i}]`));
};
export const obj = (shape: Shape): Check => (v, p) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, `expected an object, got ${show(v)}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(k in shape)) fail(`${p}.${k}`, `unknown key (expected one of ${Object.keys(shape).join(', ')})`);
  for (const [k, s] of Object.entries(shape)) {
    if (o[k] === undefined) { if (s.required) fail(`${p}.${k}`, 'missing'); continue; }
    s.check(o[k], `${p}.${k}`);
  }
};
export const record = (item: Check): Check => (v, p) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, `expected an object, got ${show(v)}`);
  for (const [k, x] of Object.entries(v as object)) item(x, `${p}.${k}`);
};
export const opt = (check: Check) => ({ check });
export const req = (check: Check) => ({ check, required: true });

/** The first check that accepts the value wins; otherwise the error lists what each alternative expected. */
export const anyOf = (...checks: Check[]): Check => (v, p) => {
  const errs: string[] = [];
  for (const c of checks) {
    try { c(v, p); return; } catch (e) { errs.push((e as Error).message.replace(`${p}: `, '')); }
  }
  fail(p, errs.join('; or '));
};
/** A [lo, hi] pair with lo <= hi, each passing `item`. */
export const range = (item: Check): Check => (v, p) => {
  arr(item, 2)(v, p);
  const [lo, hi] = v as number[];
  if (!(lo <= hi)) fail(p, `expected [lo, hi] with lo <= hi, got ${show(v)}`);
};
