// The IDX file format of MNIST and Fashion-MNIST (LeCun et al.): a 4-byte
// magic (0, 0, element type, number of dimensions), the dimensions as
// big-endian uint32, then the elements, big-endian, row-major. Files may be
// gzip-compressed (recognised by their first two bytes, whatever the name).
import { readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fromBytes, type Tensor } from '../torch/index.js';

export type IdxDType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

const TYPES: Record<number, [IdxDType, number]> = {
  0x08: ['uint8', 1],
  0x09: ['int8', 1],
  0x0b: ['int16', 2],
  0x0c: ['int32', 4],
  0x0d: ['float32', 4],
  0x0e: ['float64', 8],
};

/** Reads an IDX file (.gz or raw) into little-endian bytes with its dtype and shape. */
export function readIdx(path: string): { dtype: IdxDType; shape: number[]; data: Buffer } {
  if (typeof path !== 'string' || path === '') throw new TypeError('readIdx: expected a file path');
  let raw: Buffer;
  try {
    if (!statSync(path).isFile()) throw new Error(`readIdx: ${path} is not a file`);
    raw = readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new Error(`readIdx: ${path}: no such file`);
    if (err.message?.startsWith('readIdx:')) throw err;
    throw new Error(`readIdx: cannot read ${path}: ${err.message}`);
  }
  let buf = raw;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      buf = gunzipSync(raw);
    } catch (e) {
      throw new Error(`readIdx: ${path} is not a valid gzip file (truncated or corrupt): ${(e as Error).message}`);
    }
  }
  if (buf.length < 4) throw new Error(`readIdx: ${path} is truncated: ${buf.length} bytes, shorter than the 4-byte IDX header`);
  const type = TYPES[buf[2]];
  if (buf[0] !== 0 || buf[1] !== 0 || type === undefined) {
    const magic = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`readIdx: ${path} is not an IDX file: bad magic ${magic} (expected 00 00 <type 08|09|0b|0c|0d|0e> <ndim>)`);
  }
  const [dtype, size] = type;
  const ndim = buf[3];
  const headerLen = 4 + 4 * ndim;
  if (buf.length < headerLen) throw new Error(`readIdx: ${path} is truncated: the header of ${ndim} dimensions needs ${headerLen} bytes, the file has ${buf.length}`);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const d = buf.readUInt32BE(4 + 4 * i);
    shape.push(d);
    count *= d;
  }
  const need = count * size;
  const have = buf.length - headerLen;
  if (have !== need) {
    const what = have < need ? 'truncated' : 'too long';
    throw new Error(`readIdx: ${path} is ${what}: shape [${shape.join(',')}] of ${dtype} needs ${need} data bytes, the file has ${have}`);
  }
  // A copy, aligned and owned, converted to little-endian in place.
  const data = Buffer.alloc(need);
  buf.copy(data, 0, headerLen);
  if (size === 2) data.swap16();
  else if (size === 4) data.swap32();
  else if (size === 8) data.swap64();
  return { dtype, shape, data };
}

/** Reads an IDX file into a tensor of its dtype and shape. */
export function idxTensor(path: string): Tensor {
  const { dtype, shape, data } = readIdx(path);
  return fromBytes(data, dtype, shape);
}
