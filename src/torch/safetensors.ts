// safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian
// header length, a JSON header { name: { dtype, shape, data_offsets } } and the
// raw little-endian data. Written to a temporary file and renamed, so a crash
// never leaves a torn file.
import { readFileSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync, unlinkSync } from 'node:fs';
import { native } from './native.js';
import { Tensor, handle } from './tensor.js';
import { dtypeCode, itemSize, type DType } from './dtype.js';

const TO_ST: Record<DType, string> = {
  float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};
const FROM_ST: Record<string, DType> = Object.fromEntries(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));

export type TensorMap = Record<string, Tensor>;

/** Serialises named tensors to safetensors bytes. Metadata values must be strings. */
export function serialize(tensors: TensorMap | Map<string, Tensor>, metadata?: Record<string, string>): Buffer {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new TypeError(`safetensors: metadata '${k}' must be a string`);
    header.__metadata__ = metadata;
  }
  const datas: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new TypeError("safetensors: '__metadata__' is not a tensor name");
    const h = handle(t, `safetensors: tensor '${name}'`);
    const bytes = new Uint8Array(native.toBuffer(h));
    header[name] = { dtype: TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    datas.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  const pad = (8 - ((8 + Buffer.byteLength(json)) % 8)) % 8;
  json += ' '.repeat(pad);
  const jsonBytes = Buffer.from(json, 'utf8');
  const out = Buffer.allocUnsafe(8 + jsonBytes.byteLength + offset);
  out.writeBigUInt64LE(BigInt(jsonBytes.byteLength), 0);
  jsonBytes.copy(out, 8);
  let pos = 8 + jsonBytes.byteLength;
  for (const d of datas) {
    out.set(d, pos);
    pos += d.byteLength;
  }
  return out;
}

/** Parses safetensors bytes into named tensors (copies), checking every offset. */
export function deserialize(buf: Uint8Array, source = 'safetensors data'): { tensors: TensorMap; metadata: Record<string, string> } {
  if (buf.byteLength < 8) throw new Error(`${source}: not a safetensors file (shorter than its 8-byte header length)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > buf.byteLength - 8) throw new Error(`${source}: not a safetensors file (header length ${n} exceeds the file)`);
  let header: Record<string, any>;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, n).toString('utf8'));
  } catch (e) {
    throw new Error(`${source}: corrupt safetensors header (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error(`${source}: corrupt safetensors header (not an object)`);
  const dataStart = 8 + n;
  const dataLen = buf.byteLength - dataStart;
  const tensors: TensorMap = {};
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const dtype = FROM_ST[info?.dtype];
    if (!dtype) throw new Error(`${source}: tensor '${name}' has unsupported dtype '${info?.dtype}'`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((s: unknown) => Number.isInteger(s) && (s as number) >= 0))
      throw new Error(`${source}: tensor '${name}' has a bad shape ${JSON.stringify(shape)}`);
    const [a, b] = info.data_offsets ?? [];
    const numel = shape.reduce((x: number, y: number) => x * y, 1);
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b > dataLen || b - a !== numel * itemSize(dtype))
      throw new Error(`${source}: tensor '${name}' has data_offsets ${JSON.stringify(info.data_offsets)} that do not fit its shape or the file`);
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset + dataStart + a, b - a);
    tensors[name] = new Tensor(native.fromBuffer(bytes, dtypeCode(dtype), shape));
  }
  return { tensors, metadata };
}

/** Writes named tensors to a .safetensors file atomically (temporary file + rename). */
export function saveFile(tensors: TensorMap | Map<string, Tensor>, path: string, metadata?: Record<string, string>): void {
  writeAtomic(path, serialize(tensors, metadata));
}

export function loadFile(path: string): TensorMap {
  return loadFileWithMetadata(path).tensors;
}

export function loadFileWithMetadata(path: string): { tensors: TensorMap; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new Error(`safetensors: cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return deserialize(buf, path);
}

/** Writes bytes to `path` through a temporary file in the same folder, fsync and rename. */
export function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    writeFileSync(tmp, data);
    const fd = openSync(tmp, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
}
