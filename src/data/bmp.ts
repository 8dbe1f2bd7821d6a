// A small BMP reader: sharp's bundled libvips reads no BMP, and torchvision's
// ImageFolder accepts .bmp. Uncompressed Windows bitmaps — 1, 4, 8-bit
// palette, 16, 24 and 32-bit, BI_RGB or BI_BITFIELDS, bottom-up or top-down —
// to RGB, alpha dropped (as PIL's convert('RGB')). RLE and embedded JPEG/PNG
// bitmaps are refused with a clear error.

export interface BmpHeader {
  width: number;
  height: number;
  bitCount: number;
  topDown: boolean;
  compression: number;
  dataOffset: number;
  infoSize: number;
}

const BI_RGB = 0, BI_BITFIELDS = 3, BI_ALPHABITFIELDS = 6;

export function isBmp(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x42 && buf[1] === 0x4d; // 'BM'
}

/** Parses and checks the file and info headers. Throws a plain message (the caller adds the file name). */
export function bmpHeader(buf: Buffer): BmpHeader {
  if (!isBmp(buf)) throw new Error('not a BMP file (no BM signature)');
  if (buf.length < 26) throw new Error(`truncated BMP: ${buf.length} bytes`);
  const dataOffset = buf.readUInt32LE(10);
  const infoSize = buf.readUInt32LE(14);
  let width: number, height: number, bitCount: number, compression = BI_RGB;
  if (infoSize === 12) {
    // OS/2 BITMAPCOREHEADER
    width = buf.readUInt16LE(18);
    height = buf.readInt16LE(20);
    bitCount = buf.readUInt16LE(24);
  } else if (infoSize >= 40) {
    if (buf.length < 14 + 40) throw new Error(`truncated BMP header: ${buf.length} bytes`);
    width = buf.readInt32LE(18);
    height = buf.readInt32LE(22);
    bitCount = buf.readUInt16LE(28);
    compression = buf.readUInt32LE(30);
  } else throw new Error(`unsupported BMP info header of ${infoSize} bytes`);
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0) throw new Error(`bad BMP size ${width}x${height}`);
  if (![1, 4, 8, 16, 24, 32].includes(bitCount)) throw new Error(`unsupported BMP bit depth ${bitCount}`);
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    const name = ({ 1: 'RLE8', 2: 'RLE4', 4: 'embedded JPEG', 5: 'embedded PNG' } as Record<number, string>)[compression] ?? `type ${compression}`;
    throw new Error(`unsupported BMP compression (${name}); only uncompressed bitmaps are read`);
  }
  return { width, height, bitCount, topDown, compression, dataOffset, infoSize };
}

function maskShift(mask: number): [number, number] {
  if (mask === 0) return [0, 0];
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (((mask >>> (shift + bits)) & 1) === 1) bits++;
  return [shift, bits];
}

/** Decodes a BMP to tightly packed RGB, top row first. */
export function decodeBmp(buf: Buffer): { width: number; height: number; rgb: Buffer } {
  const h = bmpHeader(buf);
  const { width, height, bitCount, topDown } = h;
  const stride = Math.floor((width * bitCount + 31) / 32) * 4;
  if (h.dataOffset + stride * height > buf.length) {
    throw new Error(`truncated BMP: ${width}x${height}x${bitCount}-bit pixels need ${h.dataOffset + stride * height} bytes, the file has ${buf.length}`);
  }
  const rgb = Buffer.alloc(width * height * 3);
  const headerEnd = 14 + h.infoSize;

  // Palette (1/4/8-bit): BGRX entries after the info header (BGR for OS/2).
  let palette: Uint8Array | null = null;
  if (bitCount <= 8) {
    const entry = h.infoSize === 12 ? 3 : 4;
    const declared = h.infoSize >= 40 ? buf.readUInt32LE(46) : 0;
    const count = declared > 0 ? Math.min(declared, 1 << bitCount) : 1 << bitCount;
    if (headerEnd + count * entry > buf.length) throw new Error('truncated BMP palette');
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < count; i++) {
      const o = headerEnd + i * entry;
      palette[3 * i] = buf[o + 2];
      palette[3 * i + 1] = buf[o + 1];
      palette[3 * i + 2] = buf[o];
    }
  }

  // Channel masks (16/32-bit): BITFIELDS after a 40-byte header, inside V4/V5 headers, or the defaults.
  let masks: number[] = bitCount === 16 ? [0x7c00, 0x03e0, 0x001f] : [0x00ff0000, 0x0000ff00, 0x000000ff];
  if ((bitCount === 16 || bitCount === 32) && h.compression !== BI_RGB) {
    const o = 14 + 40;
    if (o + 12 > buf.length) throw new Error('truncated BMP bit masks');
    masks = [buf.readUInt32LE(o), buf.readUInt32LE(o + 4), buf.readUInt32LE(o + 8)];
  }
  const ms = masks.map(maskShift);

  for (let y = 0; y < height; y++) {
    const src = h.dataOffset + (topDown ? y : height - 1 - y) * stride;
    let dst = y * width * 3;
    if (bitCount === 24) {
      for (let x = 0; x < width; x++, dst += 3) {
        const s = src + 3 * x;
        rgb[dst] = buf[s + 2];
        rgb[dst + 1] = buf[s + 1];
        rgb[dst + 2] = buf[s];
      }
    } else if (bitCount === 32 || bitCount === 16) {
      for (let x = 0; x < width; x++, dst += 3) {
        const v = bitCount === 32 ? buf.readUInt32LE(src + 4 * x) : buf.readUInt16LE(src + 2 * x);
        for (let c = 0; c < 3; c++) {
          const [shift, bits] = ms[c];
          if (bits === 0) continue;
          const max = 2 ** bits - 1;
          const raw = Math.floor(v / 2 ** shift) % 2 ** bits;
          rgb[dst + c] = bits === 8 ? raw : Math.round((raw * 255) / max);
        }
      }
    } else {
      const perByte = 8 / bitCount;
      const m = (1 << bitCount) - 1;
      for (let x = 0; x < width; x++, dst += 3) {
        const byte = buf[src + Math.floor(x / perByte)];
        const idx = (byte >> (8 - bitCount * (1 + (x % perByte)))) & m;
        rgb[dst] = palette![3 * idx];
        rgb[dst + 1] = palette![3 * idx + 1];
        rgb[dst + 2] = palette![3 * idx + 2];
      }
    }
  }
  return { width, height, rgb };
}
