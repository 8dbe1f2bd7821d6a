// Pascal VOC's colour map (the devkit's VOClabelcolormap.m, mmseg's
// PascalVOCDataset palette): index i → RGB from the bits of i, three at a time,
// filling each channel from its most significant bit; 0 is black, 255 (the
// border, ignore) is (224, 224, 192). Palette PNG masks and pictures of masks
// use it, so a class has one colour everywhere.
let voc: number[][] | null = null;

/** The 256 VOC colours [r, g, b], index = class (a fresh copy). */
export function vocPalette(): number[][] {
  if (!voc) {
    voc = Array.from({ length: 256 }, (_, i) => {
      const rgb = [0, 0, 0];
      for (let j = 0, c = i; j < 8; j++, c >>= 3) for (let k = 0; k < 3; k++) rgb[k] |= ((c >> k) & 1) << (7 - j);
      return rgb;
    });
  }
  return voc.map((c) => c.slice());
}
