// The multi-sample transforms' helpers; the sample format itself is data's
// (src/data/sample.ts), re-exported here for the transforms.
export type { Sample, SampleSource } from '../../data/sample.js';
export { checkSample } from '../../data/sample.js';

/** Checks a multi-sample transform's imgScale: [H, W] positive integers. */
export function checkImgScale(v: unknown, who: string): void {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x > 0)) {
    throw new TypeError(`${who}: imgScale must be [H, W] in pixels, got ${JSON.stringify(v)}`);
  }
}
