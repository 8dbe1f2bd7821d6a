// A small validation schema for plain-data configs: each check throws a
// TypeError naming the path of the wrong key or value and what was expected
// (`config: optimizer.momentun: unknown key (expected one of …)`). A check also
// carries the type of what it accepts, so a config type is written once, as
// its schema, and derived with `Infer<typeof SCHEMA>` (docs/architecture.md).
/** A check of an unknown value at `path`; `T` is the type of the values it accepts (compile time only). */
export type Check<T = unknown> = ((v: unknown, path: string) => void) & { readonly __accepts?: T };
/** The type a check accepts. */
export type Infer<C> = C extends Check<infer T> ? T : never;
export type Field<T = unknown, R extends boolean = boolean> = { check: Check<T>; required?: R };
export type Shape = { [key: string]: Field };

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K] extends Field<any, true> ? K : never }[keyof S];
/** The object type of a shape: required fields as they are, the others optional. */
export type InferShape<S extends Shape> = Simplify<
  { [K in RequiredKeys<S>]: S[K] extends Field<infer T> ? T : never } & { [K in Exclude<keyof S, RequiredKeys<S>>]?: S[K] extends Field<infer T> ? T : never }
>;

export const fail = (path: string, msg: string): never => {
  throw new TypeError(`${path}: ${msg}`);
};
export const show = (v: unknown) => JSON.stringify(v) ?? String(v);
export const num = (min = -Infinity, max = Infinity, integer = false): Check<number> => (v, p) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(p, `expected a number, got ${show(v)}`);
  if (integer && !Number.isInteger(v)) fail(p, `expected an integer, got ${show(v)}`);
  if ((v as number) < min || (v as number) > max) fail(p, `expected a value in [${min}, ${max}], got ${show(v)}`);
};
export const oneOf = <const T extends readonly unknown[]>(...xs: T): Check<T[number]> => (v, p) => {
  if (!xs.includes(v)) fail(p, `expected one of ${xs.map(show).join(', ')}, got ${show(v)}`);
};
export const str: Check<string> = (v, p) => { if (typeof v !== 'string' || v === '') fail(p, `expected a non-empty string, got ${show(v)}`); };
export const bool: Check<boolean> = (v, p) => { if (typeof v !== 'boolean') fail(p, `expected true or false, got ${show(v)}`); };
export function arr<T>(item: Check<T>, len: 2): Check<[T, T]>;
export function arr<T>(item: Check<T>, len?: number): Check<T[]>;
export function arr<T>(item: Check<T>, len?: number): Check<T[]> {
  return (v, p) => {
    if (!Array.isArray(v)) fail(p, `expected an array, got ${show(v)}`);
    if (len !== undefined && (v as unknown[]).length !== len) fail(p, `expected ${len} values, got ${(v as unknown[]).length}`);
    (v as unknown[]).forEach((x, i) => item(x, `${p}[${i}]`));
  };
}
export const obj = <S extends Shape>(shape: S): Check<InferShape<S>> & { readonly shape: S } => Object.assign((v: unknown, p: string) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, `expected an object, got ${show(v)}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(k in shape)) fail(`${p}.${k}`, `unknown key (expected one of ${Object.keys(shape).join(', ')})`);
  for (const [k, s] of Object.entries(shape)) {
    if (o[k] === undefined) { if (s.required) fail(`${p}.${k}`, 'missing'); continue; }
    s.check(o[k], `${p}.${k}`);
  }
}, { shape });
export const record = <T>(item: Check<T>): Check<Record<string, T>> => (v, p) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, `expected an object, got ${show(v)}`);
  for (const [k, x] of Object.entries(v as object)) item(x, `${p}.${k}`);
};
export const opt = <T>(check: Check<T>): Field<T, false> => ({ check });
export const req = <T>(check: Check<T>): Field<T, true> => ({ check, required: true });

/** The first check that accepts the value wins; otherwise the error lists what each alternative expected. */
export const anyOf = <C extends Check<any>[]>(...checks: C): Check<Infer<C[number]>> => (v, p) => {
  const errs: string[] = [];
  for (const c of checks) {
    try { c(v, p); return; } catch (e) { errs.push((e as Error).message.replace(`${p}: `, '')); }
  }
  fail(p, errs.join('; or '));
};
/** A [lo, hi] pair with lo <= hi, each passing `item`. */
export const range = <T extends number>(item: Check<T>): Check<[T, T]> => (v, p) => {
  arr(item, 2)(v, p);
  const [lo, hi] = v as number[];
  if (!(lo <= hi)) fail(p, `expected [lo, hi] with lo <= hi, got ${show(v)}`);
};
/** A check typed as `T` without checking more than `check` does (for values whose type is an interface of a lower layer, e.g. transform entries). */
export const as = <T>(check: Check<any>): Check<T> => check as Check<T>;
