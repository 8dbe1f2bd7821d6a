// PyTorch dtypes by name, with c10::ScalarType codes (c10/core/ScalarType.h).

export type DType = 'uint8' | 'int8' | 'int16' | 'int32' | 'int64' | 'float16' | 'float32' | 'float64' | 'bool' | 'bfloat16';

const CODES: Record<DType, number> = {
  uint8: 0, int8: 1, int16: 2, int32: 3, int64: 4, float16: 5, float32: 6, float64: 7, bool: 11, bfloat16: 15,
};
const ALIASES: Record<string, DType> = {
  float: 'float32', double: 'float64', half: 'float16', long: 'int64', int: 'int32', short: 'int16', byte: 'uint8',
};
const NAMES: string[] = [];
for (const [k, v] of Object.entries(CODES)) NAMES[v] = k;

export const DTYPES = Object.keys(CODES) as DType[];

export function dtypeCode(d: DType | string): number {
  const name = (ALIASES[d] ?? d) as DType;
  const c = CODES[name];
  if (c === undefined) throw new TypeError(`unknown dtype '${d}': expected one of ${DTYPES.join(', ')}`);
  return c;
}

export function dtypeName(code: number): DType {
  const n = NAMES[code];
  if (n === undefined) throw new TypeError(`tensor has a dtype Arsenal does not support (ScalarType ${code})`);
  return n as DType;
}

export function itemSize(d: DType): number {
  switch (d) {
    case 'uint8': case 'int8': case 'bool': return 1;
    case 'int16': case 'float16': case 'bfloat16': return 2;
    case 'int32': case 'float32': return 4;
    default: return 8;
  }
}

export function isFloating(d: DType): boolean {
  return d === 'float16' || d === 'float32' || d === 'float64' || d === 'bfloat16';
}

export type TypedArray = Uint8Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Float32Array | Float64Array | Uint16Array;

/** The typed array that holds a dtype's raw elements (16-bit floats as raw Uint16 bits). */
export function typedArrayFor(d: DType, buf: ArrayBuffer, offset = 0, length?: number): TypedArray {
  switch (d) {
    case 'uint8': case 'bool': return new Uint8Array(buf, offset, length);
    case 'int8': return new Int8Array(buf, offset, length);
    case 'int16': return new Int16Array(buf, offset, length);
    case 'int32': return new Int32Array(buf, offset, length);
    case 'int64': return new BigInt64Array(buf, offset, length);
    case 'float16': case 'bfloat16': return new Uint16Array(buf, offset, length);
    case 'float32': return new Float32Array(buf, offset, length);
    case 'float64': return new Float64Array(buf, offset, length);
  }
}

/** The dtype a typed array holds, when it is unambiguous. */
export function dtypeOfTypedArray(a: ArrayBufferView): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return 'uint8';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Int16Array) return 'int16';
  throw new TypeError(`cannot infer a dtype from ${a.constructor.name}: pass { dtype } (Uint16Array holds float16/bfloat16 bits)`);
}
