// The Tensor class: one native handle, PyTorch's method names in camelCase.
// Every method is one boxed dispatcher call (src/torch/ops.ts); autograd,
// autocast and every kernel come from libtorch.
import { native } from './native.js';
import { opId } from './ops.js';
import { track, release, keep as keepTensor, type Owned } from './scope.js';
import { dtypeCode, dtypeName, typedArrayFor, type DType, type TypedArray } from './dtype.js';

export type Scalar = number | boolean;
export type TensorOrScalar = Tensor | Scalar;
/** One entry of an index: a number (select), null (new axis), '...', a slice string ':', '1:', '::2', '1:5:2', or a tensor (advanced). */
export type IndexSpec = number | null | string | Tensor;

const call = native.call;
const callV = native.callVoid;

export class Tensor implements Owned {
  /** Native handle; 0 once the tensor is freed. */
  h: number;
  _flags: number;

  /** Wraps a native handle; user code creates tensors with torch.* functions. */
  constructor(handle: number) {
    this.h = handle;
    this._flags = 0;
    track(this);
  }

  // ---- lifetime --------------------------------------------------------------
  /** Frees the native tensor now. Safe to call twice. */
  dispose(): void {
    release(this);
  }
  get isDisposed(): boolean {
    return this.h === 0 || !native.isLive(this.h);
  }
  /** torch.keep(this): outlive the enclosing scopes. */
  keep(): this {
    return keepTensor(this);
  }

  // ---- metadata ----------------------------------------------------------------
  get shape(): number[] {
    return native.shape(this.h);
  }
  size(dim?: number): any {
    const s = native.shape(this.h);
    if (dim === undefined) return s;
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`size: dimension ${dim} out of range for a ${s.length}-d tensor`);
    return s[d];
  }
  stride(): number[] {
    return native.strides(this.h);
  }
  get ndim(): number {
    return native.dim(this.h);
  }
  dim(): number {
    return native.dim(this.h);
  }
  numel(): number {
    return native.numel(this.h);
  }
  get dtype(): DType {
    return dtypeName(native.dtype(this.h));
  }
  get device(): string {
    return native.device(this.h);
  }
  isContiguous(): boolean {
    return native.isContiguous(this.h);
  }
  isFloatingPoint(): boolean {
    const d = this.dtype;
    return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
  }
  toString(): string {
    if (this.h === 0 || !native.isLive(this.h)) return 'Tensor(<disposed>)';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // ---- data out --------------------------------------------------------------------
  /** Copies the elements (row-major) into a new typed array; float16/bfloat16 come as raw Uint16 bits. */
  dataSync(): TypedArray {
    return typedArrayFor(this.dtype, native.toBuffer(this.h));
  }
  /** A zero-copy typed array over a contiguous CPU tensor's memory (shares writes; keeps the storage alive). */
  dataView(): TypedArray {
    return typedArrayFor(this.dtype, native.viewBuffer(this.h));
  }
  /** The value of a one-element tensor as a JS number (or boolean). */
  item(): number {
    return call(opId('aten::item'), this.h);
  }
  /** Nested JS arrays of numbers (booleans for bool tensors). */
  toArray(): any {
    const d = this.dtype;
    let flat: ArrayLike<number | bigint | boolean>;
    if (d === 'float16' || d === 'bfloat16') {
      const f = call(opId('aten::_to_copy'), this.h, dtypeCode('float32'));
      flat = typedArrayFor('float32', native.toBuffer(f));
      native.free(f);
    } else flat = this.dataSync();
    const conv = d === 'int64' ? (x: any) => Number(x) : d === 'bool' ? (x: any) => x !== 0 : (x: any) => x;
    const shape = this.shape;
    if (shape.length === 0) return conv(flat[0]);
    let pos = 0;
    const build = (level: number): any[] => {
      const n = shape[level];
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = level === shape.length - 1 ? conv(flat[pos++]) : build(level + 1);
      return out;
    };
    return build(0);
  }

  // ---- conversion --------------------------------------------------------------------
  /** to('float32') / to('cpu') / to({ dtype, device }). Returns this tensor itself when nothing changes, like PyTorch. */
  to(target: DType | string | { dtype?: DType; device?: string; copy?: boolean }): Tensor {
    let dtype: DType | undefined, device: string | undefined, copy = false;
    if (typeof target === 'string') {
      if (/^(cpu|cuda|mps|meta)(:\d+)?$/.test(target)) device = target;
      else dtype = target as DType;
    } else if (target && typeof target === 'object') ({ dtype, device, copy = false } = target);
    else throw new TypeError(`to: expected a dtype, a device or { dtype, device }, got ${String(target)}`);
    const code = dtype === undefined ? undefined : dtypeCode(dtype);
    if (device === undefined) return wrap(call(opId('aten::to.dtype'), this.h, code, false, copy));
    return wrap(call(opId('aten::to.device'), this.h, device, code ?? native.dtype(this.h), false, copy));
  }
  float(): Tensor { return this.to('float32'); }
  double(): Tensor { return this.to('float64'); }
  long(): Tensor { return this.to('int64'); }
  int(): Tensor { return this.to('int32'); }
  bool(): Tensor { return this.to('bool'); }
  half(): Tensor { return this.to('float16'); }
  bfloat16(): Tensor { return this.to('bfloat16'); }
  cpu(): Tensor { return this.to('cpu'); }
  /** A contiguous copy (or this tensor's data when already so); memoryFormat 'channelsLast' gives NHWC strides as PyTorch's torch.channels_last. */
  contiguous(memoryFormat: 'contiguous' | 'channelsLast' = 'contiguous'): Tensor {
    return wrap(call(opId('aten::contiguous'), this.h, memoryFormat === 'channelsLast' ? 2 : 0));
  }
  /** Whether the strides are those of a dense tensor in this layout (sizes-1 dims ignored). */
  isContiguousAs(memoryFormat: 'contiguous' | 'channelsLast'): boolean {
    if (memoryFormat === 'contiguous') return native.isContiguous(this.h);
    const s = native.shape(this.h), st = native.strides(this.h);
    if (s.length !== 4) return false;
    let expected = 1;
    for (const d of [1, 3, 2, 0]) {
      if (s[d] !== 1 && st[d] !== expected) return false;
      expected *= s[d];
    }
    return true;
  }
  clone(): Tensor { return wrap(call(opId('aten::clone'), this.h)); }
  detach(): Tensor { return wrap(call(opId('aten::detach'), this.h)); }
  detach_(): this { callV(opId('aten::detach_'), this.h); return this; }

  // ---- autograd -----------------------------------------------------------------------
  get requiresGrad(): boolean {
    return native.requiresGrad(this.h);
  }
  set requiresGrad(b: boolean) {
    native.setRequiresGrad(this.h, b);
  }
  requiresGrad_(b = true): this {
    native.setRequiresGrad(this.h, b);
    return this;
  }
  /** The accumulated gradient (a new wrapper each read; null when none). */
  get grad(): Tensor | null {
    const g = native.getGrad(this.h);
    return g === null ? null : new Tensor(g);
  }
  /** Assigns .grad (null clears it); shape and dtype must match, as PyTorch checks. */
  set grad(g: Tensor | null) {
    if (g !== null) {
      const gh = handle(g, 'grad');
      const a = native.shape(this.h).join(','), b = native.shape(gh).join(',');
      if (a !== b) throw new Error(`grad: assigned grad has shape [${b}], the tensor [${a}]`);
      if (native.dtype(gh) !== native.dtype(this.h)) throw new Error(`grad: assigned grad has dtype ${dtypeName(native.dtype(gh))}, the tensor ${this.dtype}`);
    }
    native.setGrad(this.h, g === null ? null : handle(g, 'grad'));
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.h);
  }
  get gradFn(): string | null {
    return native.gradFn(this.h);
  }
  retainGrad(): void {
    native.retainGrad(this.h);
  }
  backward(gradient?: Tensor | null, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    native.backward([this.h], gradient ? [handle(gradient, 'backward gradient')] : null, opts.retainGraph ?? null, opts.createGraph ?? false);
  }

  // ---- elementwise arithmetic -------------------------------------------------------------
  add(other: TensorOrScalar, alpha?: number): Tensor { return binary(this, other, 'aten::add.Tensor', 'aten::add.Scalar', alpha); }
  sub(other: TensorOrScalar, alpha?: number): Tensor { return binary(this, other, 'aten::sub.Tensor', 'aten::sub.Scalar', alpha); }
  mul(other: TensorOrScalar): Tensor { return binary(this, other, 'aten::mul.Tensor', 'aten::mul.Scalar'); }
  div(other: TensorOrScalar, roundingMode?: 'trunc' | 'floor'): Tensor {
    if (roundingMode !== undefined) return binary(this, other, 'aten::div.Tensor_mode', 'aten::div.Scalar_mode', roundingMode);
    return binary(this, other, 'aten::div.Tensor', 'aten::div.Scalar');
  }
  remainder(other: TensorOrScalar): Tensor { return binary(this, other, 'aten::remainder.Tensor', 'aten::remainder.Scalar'); }
  pow(exponent: TensorOrScalar): Tensor { return binary(this, exponent, 'aten::pow.Tensor_Tensor', 'aten::pow.Tensor_Scalar'); }
  rsub(other: TensorOrScalar): Tensor { return binary(this, other, 'aten::rsub.Tensor', 'aten::rsub.Scalar'); }
  maximum(other: Tensor): Tensor { return wrap(call(opId('aten::maximum'), this.h, handle(other, 'maximum'))); }
  minimum(other: Tensor): Tensor { return wrap(call(opId('aten::minimum'), this.h, handle(other, 'minimum'))); }
  neg(): Tensor { return unary(this, 'aten::neg'); }
  abs(): Tensor { return unary(this, 'aten::abs'); }
  sign(): Tensor { return unary(this, 'aten::sign'); }
  exp(): Tensor { return unary(this, 'aten::exp'); }
  expm1(): Tensor { return unary(this, 'aten::expm1'); }
  log(): Tensor { return unary(this, 'aten::log'); }
  log1p(): Tensor { return unary(this, 'aten::log1p'); }
  log2(): Tensor { return unary(this, 'aten::log2'); }
  sqrt(): Tensor { return unary(this, 'aten::sqrt'); }
  rsqrt(): Tensor { return unary(this, 'aten::rsqrt'); }
  square(): Tensor { return unary(this, 'aten::square'); }
  reciprocal(): Tensor { return unary(this, 'aten::reciprocal'); }
  sin(): Tensor { return unary(this, 'aten::sin'); }
  erf(): Tensor { return unary(this, 'aten::erf'); }
  erfinv(): Tensor { return unary(this, 'aten::erfinv'); }
  cos(): Tensor { return unary(this, 'aten::cos'); }
  floor(): Tensor { return unary(this, 'aten::floor'); }
  ceil(): Tensor { return unary(this, 'aten::ceil'); }
  round(): Tensor { return unary(this, 'aten::round'); }
  trunc(): Tensor { return unary(this, 'aten::trunc'); }
  sigmoid(): Tensor { return unary(this, 'aten::sigmoid'); }
  tanh(): Tensor { return unary(this, 'aten::tanh'); }
  relu(): Tensor { return unary(this, 'aten::relu'); }
  logicalNot(): Tensor { return unary(this, 'aten::logical_not'); }
  logicalAnd(other: Tensor): Tensor { return wrap(call(opId('aten::logical_and'), this.h, handle(other, 'logicalAnd'))); }
  logicalOr(other: Tensor): Tensor { return wrap(call(opId('aten::logical_or'), this.h, handle(other, 'logicalOr'))); }
  logicalXor(other: Tensor): Tensor { return wrap(call(opId('aten::logical_xor'), this.h, handle(other, 'logicalXor'))); }
  bitwiseNot(): Tensor { return unary(this, 'aten::bitwise_not'); }
  isnan(): Tensor { return unary(this, 'aten::isnan'); }
  isfinite(): Tensor { return unary(this, 'aten::isfinite'); }
  clamp(min?: number | Tensor | null, max?: number | Tensor | null): Tensor {
    if (min instanceof Tensor || max instanceof Tensor) return wrap(call(opId('aten::clamp.Tensor'), this.h, optHandle(min, 'clamp min'), optHandle(max, 'clamp max')));
    return wrap(call(opId('aten::clamp'), this.h, min ?? null, max ?? null));
  }
  clip(min?: number | null, max?: number | null): Tensor { return this.clamp(min, max); }
  where(condition: Tensor, other: TensorOrScalar): Tensor { return where(condition, this, other); }
  maskedFill(mask: Tensor, value: TensorOrScalar): Tensor {
    if (value instanceof Tensor) return wrap(call(opId('aten::masked_fill.Tensor'), this.h, handle(mask, 'maskedFill mask'), value.h));
    return wrap(call(opId('aten::masked_fill.Scalar'), this.h, handle(mask, 'maskedFill mask'), value));
  }
  lerp(end: Tensor, weight: TensorOrScalar): Tensor {
    if (weight instanceof Tensor) return wrap(call(opId('aten::lerp.Tensor'), this.h, handle(end, 'lerp'), weight.h));
    return wrap(call(opId('aten::lerp.Scalar'), this.h, handle(end, 'lerp'), weight));
  }

  // ---- comparisons -------------------------------------------------------------------------
  eq(other: TensorOrScalar): Tensor { return binary(this, other, 'aten::eq.Tensor', 'aten::eq.Scalar'); }
  ne(other: TensorOrScalar): Tensor { return binary(this, other, 'aten::ne.Tensor', 'aten::ne.Scalar'); }
  lt(other: TensorOrScalar): Tensor { return binary(this, other, 'aten::lt.Tensor', 'aten::lt.Scalar'); }
  le(other: TensorOrScalar): Tensor { return binary(this, other, 'aten::le.Tensor', 'aten::le.Scalar'); }
  gt(other: TensorOrScalar): Tensor { return binary(this, other, 'aten::gt.Tensor', 'aten::gt.Scalar'); }
  ge(other: TensorOrScalar): Tensor { return binary(this, other, 'aten::ge.Tensor', 'aten::ge.Scalar'); }
  equal(other: Tensor): boolean { return call(opId('aten::equal'), this.h, handle(other, 'equal')); }
  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8): boolean { return call(opId('aten::allclose'), this.h, handle(other, 'allclose'), rtol, atol, false); }

  // ---- reductions -----------------------------------------------------------------------------
  sum(dim?: number | number[] | null, keepdim = false, opts: { dtype?: DType } = {}): Tensor {
    const dt = opts.dtype === undefined ? null : dtypeCode(opts.dtype);
    if (dim === undefined || dim === null) return wrap(call(opId('aten::sum'), this.h, dt));
    return wrap(call(opId('aten::sum.dim_IntList'), this.h, dim, keepdim, dt));
  }
  mean(dim?: number | number[] | null, keepdim = false): Tensor {
    if (dim === undefined || dim === null) return wrap(call(opId('aten::mean'), this.h));
    return wrap(call(opId('aten::mean.dim'), this.h, dim, keepdim));
  }
  prod(dim?: number, keepdim = false): Tensor {
    if (dim === undefined) return wrap(call(opId('aten::prod'), this.h));
    return wrap(call(opId('aten::prod.dim_int'), this.h, dim, keepdim));
  }
  /** max() over all elements, or { values, indices } along dim (PyTorch's named tuple). */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): any {
    if (dim === undefined) return wrap(call(opId('aten::max'), this.h));
    const [v, i] = call(opId('aten::max.dim'), this.h, dim, keepdim);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): any {
    if (dim === undefined) return wrap(call(opId('aten::min'), this.h));
    const [v, i] = call(opId('aten::min.dim'), this.h, dim, keepdim);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  amax(dim: number | number[] = [], keepdim = false): Tensor { return wrap(call(opId('aten::amax'), this.h, dim, keepdim)); }
  amin(dim: number | number[] = [], keepdim = false): Tensor { return wrap(call(opId('aten::amin'), this.h, dim, keepdim)); }
  argmax(dim?: number | null, keepdim = false): Tensor { return wrap(call(opId('aten::argmax'), this.h, dim ?? null, keepdim)); }
  argmin(dim?: number | null, keepdim = false): Tensor { return wrap(call(opId('aten::argmin'), this.h, dim ?? null, keepdim)); }
  /** Standard deviation with Bessel's correction by default (unbiased, as PyTorch). */
  std(dim?: number | number[] | null, opts: { correction?: number; unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
    return wrap(call(opId('aten::std.correction'), this.h, dim ?? null, correctionOf(opts), opts.keepdim ?? false));
  }
  var(dim?: number | number[] | null, opts: { correction?: number; unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
    return wrap(call(opId('aten::var.correction'), this.h, dim ?? null, correctionOf(opts), opts.keepdim ?? false));
  }
  norm(p = 2, dim?: number | number[] | null, keepdim = false): Tensor {
    if (dim === undefined || dim === null) return wrap(call(opId('aten::norm.Scalar'), this.h, p));
    return wrap(call(opId('aten::norm.ScalarOpt_dim'), this.h, p, dim, keepdim));
  }
  logsumexp(dim: number | number[], keepdim = false): Tensor { return wrap(call(opId('aten::logsumexp'), this.h, dim, keepdim)); }
  all(dim?: number, keepdim = false): Tensor {
    if (dim === undefined) return wrap(call(opId('aten::all'), this.h));
    return wrap(call(opId('aten::all.dim'), this.h, dim, keepdim));
  }
  any(dim?: number, keepdim = false): Tensor {
    if (dim === undefined) return wrap(call(opId('aten::any'), this.h));
    return wrap(call(opId('aten::any.dim'), this.h, dim, keepdim));
  }
  cumsum(dim: number): Tensor { return wrap(call(opId('aten::cumsum'), this.h, dim)); }
  softmax(dim: number, opts: { dtype?: DType } = {}): Tensor {
    return wrap(call(opId('aten::softmax.int'), this.h, dim, opts.dtype ? dtypeCode(opts.dtype) : null));
  }
  logSoftmax(dim: number, opts: { dtype?: DType } = {}): Tensor {
    return wrap(call(opId('aten::log_softmax.int'), this.h, dim, opts.dtype ? dtypeCode(opts.dtype) : null));
  }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [v, i] = call(opId('aten::sort'), this.h, dim, descending);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  argsort(dim = -1, descending = false): Tensor { return wrap(call(opId('aten::argsort'), this.h, dim, descending)); }
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [v, i] = call(opId('aten::topk'), this.h, k, dim, largest, sorted);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }

  // ---- shape ---------------------------------------------------------------------------------------
  reshape(...shape: number[] | [number[]]): Tensor { return wrap(call(opId('aten::reshape'), this.h, sizeArgs(shape))); }
  view(...shape: number[] | [number[]]): Tensor { return wrap(call(opId('aten::view'), this.h, sizeArgs(shape))); }
  viewAs(other: Tensor): Tensor { return this.view(other.shape); }
  expand(...shape: number[] | [number[]]): Tensor { return wrap(call(opId('aten::expand'), this.h, sizeArgs(shape), false)); }
  expandAs(other: Tensor): Tensor { return this.expand(other.shape); }
  repeat(...reps: number[] | [number[]]): Tensor { return wrap(call(opId('aten::repeat'), this.h, sizeArgs(reps))); }
  permute(...dims: number[] | [number[]]): Tensor { return wrap(call(opId('aten::permute'), this.h, sizeArgs(dims))); }
  transpose(dim0: number, dim1: number): Tensor { return wrap(call(opId('aten::transpose.int'), this.h, dim0, dim1)); }
  get T(): Tensor { return wrap(call(opId('aten::numpy_T'), this.h)); }
  t(): Tensor { return wrap(call(opId('aten::t'), this.h)); }
  flatten(startDim = 0, endDim = -1): Tensor { return wrap(call(opId('aten::flatten.using_ints'), this.h, startDim, endDim)); }
  unflatten(dim: number, sizes: number[]): Tensor { return wrap(call(opId('aten::unflatten.int'), this.h, dim, sizes)); }
  squeeze(dim?: number): Tensor {
    if (dim === undefined) return wrap(call(opId('aten::squeeze'), this.h));
    return wrap(call(opId('aten::squeeze.dim'), this.h, dim));
  }
  unsqueeze(dim: number): Tensor { return wrap(call(opId('aten::unsqueeze'), this.h, dim)); }
  narrow(dim: number, start: number, length: number): Tensor { return wrap(call(opId('aten::narrow'), this.h, dim, start, length)); }
  select(dim: number, index: number): Tensor { return wrap(call(opId('aten::select.int'), this.h, dim, index)); }
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return wrap(call(opId('aten::slice.Tensor'), this.h, dim, start ?? null, end ?? null, step));
  }
  split(splitSize: number | number[], dim = 0): Tensor[] {
    if (Array.isArray(splitSize)) return wrapAll(call(opId('aten::split_with_sizes'), this.h, splitSize, dim));
    return wrapAll(call(opId('aten::split.Tensor'), this.h, splitSize, dim));
  }
  chunk(chunks: number, dim = 0): Tensor[] { return wrapAll(call(opId('aten::chunk'), this.h, chunks, dim)); }
  unbind(dim = 0): Tensor[] { return wrapAll(call(opId('aten::unbind.int'), this.h, dim)); }
  flip(dims: number | number[]): Tensor { return wrap(call(opId('aten::flip'), this.h, typeof dims === 'number' ? [dims] : dims)); }
  roll(shifts: number | number[], dims?: number | number[]): Tensor { return wrap(call(opId('aten::roll'), this.h, shifts, dims ?? [])); }
  indexSelect(dim: number, index: Tensor): Tensor { return wrap(call(opId('aten::index_select'), this.h, dim, handle(index, 'indexSelect index'))); }
  gather(dim: number, index: Tensor): Tensor { return wrap(call(opId('aten::gather'), this.h, dim, handle(index, 'gather index'), false)); }
  scatter(dim: number, index: Tensor, src: TensorOrScalar): Tensor {
    if (src instanceof Tensor) return wrap(call(opId('aten::scatter.src'), this.h, dim, handle(index, 'scatter index'), src.h));
    return wrap(call(opId('aten::scatter.value'), this.h, dim, handle(index, 'scatter index'), src));
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return wrap(call(opId('aten::scatter_add'), this.h, dim, handle(index, 'scatterAdd index'), handle(src, 'scatterAdd src')));
  }
  nonzero(): Tensor { return wrap(call(opId('aten::nonzero'), this.h)); }
  maskedSelect(mask: Tensor): Tensor { return wrap(call(opId('aten::masked_select'), this.h, handle(mask, 'maskedSelect mask'))); }
  tril(diagonal = 0): Tensor { return wrap(call(opId('aten::tril'), this.h, diagonal)); }
  triu(diagonal = 0): Tensor { return wrap(call(opId('aten::triu'), this.h, diagonal)); }

  /**
   * PyTorch indexing: t.index(0, ':', null, '1::2', idxTensor, '...') is
   * t[0, :, None, 1::2, idx, ...]. Numbers select, strings slice, null adds an
   * axis, '...' skips the remaining dims, tensors index (int64 or bool).
   */
  index(...specs: IndexSpec[]): Tensor {
    return applyIndex(this, specs);
  }
  /** t[...specs] = value, in place (index_put_ for tensor indices, copy_/fill_ otherwise). */
  indexPut_(specs: IndexSpec[], value: TensorOrScalar): this {
    const tensors = specs.filter((s) => s instanceof Tensor).length;
    if (tensors > 0 && specs.every((s) => s instanceof Tensor)) {
      const v = value instanceof Tensor ? value.h : call(opId('aten::scalar_tensor'), value, native.dtype(this.h));
      callV(opId('aten::index_put_'), this.h, specs.map((s) => (s as Tensor).h), v, false);
      if (!(value instanceof Tensor)) native.free(v);
      return this;
    }
    const view = applyIndex(this, specs);
    if (value instanceof Tensor) callV(opId('aten::copy_'), view.h, value.h, false);
    else callV(opId('aten::fill_.Scalar'), view.h, value);
    view.dispose();
    return this;
  }

  // ---- linear algebra ------------------------------------------------------------------------------------
  matmul(other: Tensor): Tensor { return wrap(call(opId('aten::matmul'), this.h, handle(other, 'matmul'))); }
  mm(other: Tensor): Tensor { return wrap(call(opId('aten::mm'), this.h, handle(other, 'mm'))); }
  bmm(other: Tensor): Tensor { return wrap(call(opId('aten::bmm'), this.h, handle(other, 'bmm'))); }
  dot(other: Tensor): Tensor { return wrap(call(opId('aten::dot'), this.h, handle(other, 'dot'))); }
  outer(other: Tensor): Tensor { return wrap(call(opId('aten::outer'), this.h, handle(other, 'outer'))); }

  // ---- in place (what optimizers need) -------------------------------------------------------------------
  add_(other: TensorOrScalar, alpha?: number): this { return inplace(this, other, 'aten::add_.Tensor', 'aten::add_.Scalar', alpha); }
  sub_(other: TensorOrScalar, alpha?: number): this { return inplace(this, other, 'aten::sub_.Tensor', 'aten::sub_.Scalar', alpha); }
  mul_(other: TensorOrScalar): this { return inplace(this, other, 'aten::mul_.Tensor', 'aten::mul_.Scalar'); }
  div_(other: TensorOrScalar): this { return inplace(this, other, 'aten::div_.Tensor', 'aten::div_.Scalar'); }
  pow_(other: TensorOrScalar): this { return inplace(this, other, 'aten::pow_.Tensor', 'aten::pow_.Scalar'); }
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    callV(opId('aten::addcmul_'), this.h, handle(t1, 'addcmul_'), handle(t2, 'addcmul_'), value);
    return this;
  }
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    callV(opId('aten::addcdiv_'), this.h, handle(t1, 'addcdiv_'), handle(t2, 'addcdiv_'), value);
    return this;
  }
  lerp_(end: Tensor, weight: TensorOrScalar): this {
    if (weight instanceof Tensor) callV(opId('aten::lerp_.Tensor'), this.h, handle(end, 'lerp_'), weight.h);
    else callV(opId('aten::lerp_.Scalar'), this.h, handle(end, 'lerp_'), weight);
    return this;
  }
  copy_(src: Tensor): this { callV(opId('aten::copy_'), this.h, handle(src, 'copy_'), false); return this; }
  zero_(): this { callV(opId('aten::zero_'), this.h); return this; }
  fill_(value: TensorOrScalar): this {
    if (value instanceof Tensor) callV(opId('aten::fill_.Tensor'), this.h, value.h);
    else callV(opId('aten::fill_.Scalar'), this.h, value);
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this { callV(opId('aten::clamp_'), this.h, min ?? null, max ?? null); return this; }
  sqrt_(): this { callV(opId('aten::sqrt_'), this.h); return this; }
  neg_(): this { callV(opId('aten::neg_'), this.h); return this; }
  relu_(): this { callV(opId('aten::relu_'), this.h); return this; }
  maskedFill_(mask: Tensor, value: Scalar): this { callV(opId('aten::masked_fill_.Scalar'), this.h, handle(mask, 'maskedFill_'), value); return this; }
  uniform_(from = 0, to = 1): this { callV(opId('aten::uniform_'), this.h, from, to, null); return this; }
  normal_(mean = 0, std = 1): this { callV(opId('aten::normal_'), this.h, mean, std, null); return this; }
  bernoulli_(p = 0.5): this { callV(opId('aten::bernoulli_.float'), this.h, p, null); return this; }
}

// ---- helpers shared by the wrappers ------------------------------------------------------

export function wrap(h: number | null): Tensor {
  if (h === null) throw new Error('operator returned an undefined tensor');
  return new Tensor(h);
}

export function wrapAll(hs: (number | null)[]): Tensor[] {
  return hs.map((h) => wrap(h));
}

export function wrapOpt(h: number | null): Tensor | null {
  return h === null ? null : new Tensor(h);
}

/** The handle of a tensor argument; a clear error for anything else. */
export function handle(t: unknown, what: string): number {
  if (t instanceof Tensor) {
    if (t.h === 0) throw new Error(`${what}: the tensor was disposed`);
    return t.h;
  }
  throw new TypeError(`${what}: expected a Tensor, got ${describe(t)}`);
}

export function optHandle(t: unknown, what: string): number | null {
  return t === undefined || t === null ? null : handle(t, what);
}

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return `an object (${(x as object).constructor?.name ?? 'Object'})`;
  return `${typeof x} ${String(x)}`;
}

function binary(a: Tensor, b: TensorOrScalar, tensorOp: string, scalarOp: string, extra?: unknown): Tensor {
  if (b instanceof Tensor) return new Tensor(call(opId(tensorOp), a.h, b.h, extra));
  if (typeof b === 'number' || typeof b === 'boolean') return new Tensor(call(opId(scalarOp), a.h, b, extra));
  throw new TypeError(`${tensorOp.slice(6).split('.')[0]}: expected a Tensor or a number, got ${describe(b)}`);
}

function inplace<T extends Tensor>(a: T, b: TensorOrScalar, tensorOp: string, scalarOp: string, extra?: unknown): T {
  if (b instanceof Tensor) callV(opId(tensorOp), a.h, b.h, extra);
  else if (typeof b === 'number' || typeof b === 'boolean') callV(opId(scalarOp), a.h, b, extra);
  else throw new TypeError(`${tensorOp.slice(6).split('.')[0]}: expected a Tensor or a number, got ${describe(b)}`);
  return a;
}

function unary(a: Tensor, op: string): Tensor {
  return new Tensor(call(opId(op), a.h));
}

function correctionOf(opts: { correction?: number; unbiased?: boolean }): number {
  if (opts.correction !== undefined) return opts.correction;
  return opts.unbiased === false ? 0 : 1;
}

/** Accepts f(2, 3) and f([2, 3]) like PyTorch's varargs sizes. */
export function sizeArgs(args: number[] | [number[]]): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return args[0] as number[];
  return args as number[];
}

export function where(condition: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  const c = handle(condition, 'where condition');
  if (a instanceof Tensor && b instanceof Tensor) return new Tensor(call(opId('aten::where.self'), c, a.h, b.h));
  if (a instanceof Tensor) return new Tensor(call(opId('aten::where.ScalarOther'), c, a.h, b));
  if (b instanceof Tensor) return new Tensor(call(opId('aten::where.ScalarSelf'), c, a, b.h));
  return new Tensor(call(opId('aten::where.Scalar'), c, a, b));
}

function parseSlice(s: string): [number | null, number | null, number] {
  const parts = s.split(':');
  if (parts.length < 2 || parts.length > 3) throw new TypeError(`index: bad slice '${s}' (expected 'start:end' or 'start:end:step')`);
  const num = (p: string | undefined): number | null => {
    if (p === undefined || p.trim() === '') return null;
    const v = Number(p);
    if (!Number.isInteger(v)) throw new TypeError(`index: bad slice '${s}'`);
    return v;
  };
  const step = num(parts[2]) ?? 1;
  if (step <= 0) throw new RangeError(`index: slice step must be positive, got '${s}'`);
  return [num(parts[0]), num(parts[1]), step];
}

function applyIndex(t: Tensor, specs: IndexSpec[]): Tensor {
  const ndim = t.ndim;
  let consumed = 0;
  for (const s of specs) {
    if (typeof s === 'number' || (typeof s === 'string' && s !== '...')) consumed += 1;
    else if (s instanceof Tensor) consumed += s.dtype === 'bool' || s.dtype === 'uint8' ? s.ndim : 1;
  }
  if (consumed > ndim) throw new RangeError(`index: too many indices (${consumed}) for a ${ndim}-d tensor`);
  if (specs.filter((s) => s === '...').length > 1) throw new TypeError("index: only one '...' allowed");
  let h = t.h;
  const temps: number[] = [];
  const adv: (number | null)[] = [];
  let dim = 0;
  try {
    for (const s of specs) {
      let next: number;
      if (typeof s === 'number') {
        if (!Number.isInteger(s)) throw new TypeError(`index: ${s} is not an integer`);
        next = call(opId('aten::select.int'), h, dim, s);
      } else if (s === null) {
        next = call(opId('aten::unsqueeze'), h, dim);
        adv.push(null);
        dim += 1;
      } else if (s === '...') {
        const skip = ndim - consumed;
        for (let k = 0; k < skip; k++) adv.push(null);
        dim += skip;
        continue;
      } else if (typeof s === 'string') {
        const [a, b, step] = parseSlice(s);
        next = call(opId('aten::slice.Tensor'), h, dim, a, b, step);
        adv.push(null);
        dim += 1;
      } else if (s instanceof Tensor) {
        // One entry; a bool mask consumes as many dims as it has (ATen expands it).
        adv.push(s.h);
        dim += s.dtype === 'bool' || s.dtype === 'uint8' ? s.ndim : 1;
        continue;
      } else throw new TypeError(`index: unsupported index ${describe(s)}`);
      if (h !== t.h) temps.push(h);
      h = next;
    }
    if (adv.some((x) => x !== null)) {
      while (adv.length > 0 && adv[adv.length - 1] === null) adv.pop();
      const next = call(opId('aten::index.Tensor'), h, adv);
      if (h !== t.h) temps.push(h);
      h = next;
    } else if (h === t.h) {
      h = call(opId('aten::alias'), h);
    }
  } catch (e) {
    if (h !== t.h) temps.push(h);
    native.freeMany(temps);
    throw e;
  }
  native.freeMany(temps);
  return new Tensor(h);
}
