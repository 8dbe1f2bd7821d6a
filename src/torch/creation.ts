// Creating tensors: from JS data, and PyTorch's factory functions.
import { native } from './native.js';
import { opId } from './ops.js';
import { Tensor, handle, describe } from './tensor.js';
import { dtypeCode, dtypeOfTypedArray, type DType, typedArrayFor, itemSize } from './dtype.js';

export interface TensorOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

const call = native.call;

function finish(h: number, opts: TensorOptions | undefined): Tensor {
  const t = new Tensor(h);
  if (opts?.requiresGrad) native.setRequiresGrad(h, true);
  return t;
}

function dt(opts: TensorOptions | undefined, dflt: DType | null = 'float32'): number | null {
  if (opts?.dtype !== undefined) return dtypeCode(opts.dtype);
  return dflt === null ? null : dtypeCode(dflt);
}

function isOptions(x: unknown): x is TensorOptions {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x);
}

/** Parses (2, 3, opts?) and ([2, 3], opts?) like PyTorch's varargs sizes. */
function sizeAndOptions(args: unknown[], what: string): [number[], TensorOptions | undefined] {
  let opts: TensorOptions | undefined;
  if (args.length > 0 && isOptions(args[args.length - 1])) opts = args.pop() as TensorOptions;
  const size = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  for (const s of size) {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0) throw new TypeError(`${what}: size must be non-negative integers, got ${describe(s)}`);
  }
  return [size as number[], opts];
}

type Nested = number | boolean | Nested[];

function inferShape(data: Nested, what: string): number[] {
  const shape: number[] = [];
  let cur: Nested = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

function flattenInto(data: Nested, shape: number[], level: number, out: number[], what: string): void {
  if (level === shape.length) {
    if (typeof data === 'number') out.push(data);
    else if (typeof data === 'boolean') out.push(data ? 1 : 0);
    else throw new TypeError(`${what}: ragged or non-numeric data (expected a number at depth ${level}, got ${describe(data)})`);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[level])
    throw new TypeError(`${what}: ragged nested array: expected length ${shape[level]} at depth ${level}, got ${describe(data)}`);
  for (const e of data) flattenInto(e, shape, level + 1, out, what);
}

function allBooleans(data: Nested): boolean {
  if (Array.isArray(data)) return data.every(allBooleans);
  return typeof data === 'boolean';
}

/**
 * torch.tensor(data, { dtype }). Typed arrays keep their dtype (1-d, or with
 * opts.shape). Nested JS arrays follow PyTorch's inference: all integers ->
 * int64, any fraction -> float32, booleans -> bool.
 */
export function tensor(data: Nested | ArrayBufferView | number, opts: TensorOptions & { shape?: number[] } = {}): Tensor {
  if (opts.dtype !== undefined) dtypeCode(opts.dtype);
  if (ArrayBuffer.isView(data)) {
    const src = data as ArrayBufferView;
    const own = src instanceof Uint16Array ? opts.dtype : dtypeOfTypedArray(src);
    if (own === undefined) throw new TypeError('tensor: a Uint16Array needs { dtype: "float16" | "bfloat16" }');
    const n = src.byteLength / itemSize(own);
    const shape = opts.shape ?? [n];
    let h = native.fromBuffer(src, dtypeCode(own), shape);
    if (opts.dtype !== undefined && opts.dtype !== own) {
      const c = call(opId('aten::_to_copy'), h, dtypeCode(opts.dtype));
      native.free(h);
      h = c;
    }
    return finish(h, opts);
  }
  const shape = inferShape(data as Nested, 'tensor');
  const flat: number[] = [];
  flattenInto(data as Nested, shape, 0, flat, 'tensor');
  let dtype = opts.dtype;
  if (dtype !== undefined) dtypeCode(dtype); // a clear error for an unknown name
  if (dtype === undefined) {
    // PyTorch's inference: all booleans -> bool; all (safe) integers -> int64; else float32.
    if (flat.length > 0 && allBooleans(data as Nested)) dtype = 'bool';
    else dtype = flat.length > 0 && flat.every((x) => Number.isSafeInteger(x)) ? 'int64' : 'float32';
  } else if (dtype === 'int64') {
    const bad = flat.find((x) => !Number.isSafeInteger(x));
    if (bad !== undefined) throw new RangeError(`tensor: ${bad} is not an integer that a JS number holds exactly; pass a BigInt64Array for int64 data`);
  }
  let arr: ArrayBufferView;
  if (dtype === 'int64') arr = BigInt64Array.from(flat, (x) => BigInt(Math.trunc(x)));
  else if (dtype === 'float16' || dtype === 'bfloat16') {
    const h = native.fromBuffer(Float32Array.from(flat), dtypeCode('float32'), shape);
    const c = call(opId('aten::_to_copy'), h, dtypeCode(dtype));
    native.free(h);
    return finish(c, opts);
  } else {
    const buf = new ArrayBuffer(flat.length * itemSize(dtype));
    const ta = typedArrayFor(dtype, buf) as any;
    for (let i = 0; i < flat.length; i++) ta[i] = flat[i];
    arr = ta;
  }
  return finish(native.fromBuffer(arr, dtypeCode(dtype), shape), opts);
}

/** A tensor from raw little-endian bytes (safetensors, IDX files). */
export function fromBytes(bytes: ArrayBufferView | ArrayBuffer, dtype: DType, shape: number[]): Tensor {
  return new Tensor(native.fromBuffer(bytes, dtypeCode(dtype), shape));
}

export function scalarTensor(value: number | boolean, opts?: TensorOptions): Tensor {
  return finish(call(opId('aten::scalar_tensor'), value, dt(opts), null, opts?.device ?? null), opts);
}

export function zeros(...args: (number | number[] | TensorOptions)[]): Tensor {
  const [size, opts] = sizeAndOptions(args, 'zeros');
  return finish(call(opId('aten::zeros'), size, dt(opts), null, opts?.device ?? null), opts);
}
export function ones(...args: (number | number[] | TensorOptions)[]): Tensor {
  const [size, opts] = sizeAndOptions(args, 'ones');
  return finish(call(opId('aten::ones'), size, dt(opts), null, opts?.device ?? null), opts);
}
export function empty(...args: (number | number[] | TensorOptions)[]): Tensor {
  const [size, opts] = sizeAndOptions(args, 'empty');
  return finish(call(opId('aten::empty.memory_format'), size, dt(opts), null, opts?.device ?? null), opts);
}
/** full(size, value): float32 unless { dtype } (JS cannot tell 1 from 1.0). */
export function full(size: number[], value: number | boolean, opts?: TensorOptions): Tensor {
  const [s] = sizeAndOptions([size], 'full');
  const d = dt(opts, typeof value === 'boolean' ? 'bool' : 'float32');
  return finish(call(opId('aten::full'), s, value, d, null, opts?.device ?? null), opts);
}
export function rand(...args: (number | number[] | TensorOptions)[]): Tensor {
  const [size, opts] = sizeAndOptions(args, 'rand');
  return finish(call(opId('aten::rand'), size, dt(opts), null, opts?.device ?? null), opts);
}
export function randn(...args: (number | number[] | TensorOptions)[]): Tensor {
  const [size, opts] = sizeAndOptions(args, 'randn');
  return finish(call(opId('aten::randn'), size, dt(opts), null, opts?.device ?? null), opts);
}
/** randint(low, high, size) or randint(high, size); int64 by default. */
export function randint(a: number, b: number | number[], c?: number[] | TensorOptions, d?: TensorOptions): Tensor {
  let low = 0, high: number, size: number[], opts: TensorOptions | undefined;
  if (Array.isArray(b)) { high = a; size = b; opts = c as TensorOptions | undefined; }
  else { low = a; high = b; size = c as number[]; opts = d; }
  if (!Array.isArray(size)) throw new TypeError('randint: expected a size array');
  return finish(call(opId('aten::randint.low'), low, high, size, dt(opts, 'int64'), null, opts?.device ?? null), opts);
}
export function randperm(n: number, opts?: TensorOptions): Tensor {
  return finish(call(opId('aten::randperm'), n, dt(opts, 'int64'), null, opts?.device ?? null), opts);
}
/** arange(end) / arange(start, end, step). int64 when all arguments are integers (as PyTorch), else float32. */
export function arange(a: number, b?: number, step = 1, opts?: TensorOptions): Tensor {
  const [start, end] = b === undefined ? [0, a] : [a, b];
  const ints = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  return finish(call(opId('aten::arange.start_step'), start, end, step, dt(opts, ints ? 'int64' : 'float32'), null, opts?.device ?? null), opts);
}
export function linspace(start: number, end: number, steps: number, opts?: TensorOptions): Tensor {
  return finish(call(opId('aten::linspace'), start, end, steps, dt(opts), null, opts?.device ?? null), opts);
}
export function eye(n: number, m?: number, opts?: TensorOptions): Tensor {
  if (m === undefined) return finish(call(opId('aten::eye'), n, dt(opts), null, opts?.device ?? null), opts);
  return finish(call(opId('aten::eye.m'), n, m, dt(opts), null, opts?.device ?? null), opts);
}

function likeOp(op: string, t: Tensor, opts?: TensorOptions): Tensor {
  return finish(call(opId(op), handle(t, op.slice(6)), dt(opts, null), null, opts?.device ?? null), opts);
}
export function zerosLike(t: Tensor, opts?: TensorOptions): Tensor { return likeOp('aten::zeros_like', t, opts); }
export function onesLike(t: Tensor, opts?: TensorOptions): Tensor { return likeOp('aten::ones_like', t, opts); }
export function emptyLike(t: Tensor, opts?: TensorOptions): Tensor { return likeOp('aten::empty_like', t, opts); }
export function randLike(t: Tensor, opts?: TensorOptions): Tensor { return likeOp('aten::rand_like', t, opts); }
export function randnLike(t: Tensor, opts?: TensorOptions): Tensor { return likeOp('aten::randn_like', t, opts); }
export function fullLike(t: Tensor, value: number, opts?: TensorOptions): Tensor {
  return finish(call(opId('aten::full_like'), handle(t, 'fullLike'), value, dt(opts, null), null, opts?.device ?? null), opts);
}
