// PASCAL VOC's colour map (VOCdevkit's labelcolormap.m, mmseg's
// PascalVOCDataset palette): colour i interleaves the bits of i into R, G, B
// from the most significant bit down; index 255 (ignore) is (224, 224, 192).
export function vocPalette(n = 256): [number, number, number][] {
  return Array.from({ length: n }, (_, i) => {
    let [r, g, b, c] = [0, 0, 0, i];
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    return [r, g, b];
  });
}
