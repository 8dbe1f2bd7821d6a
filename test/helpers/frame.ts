// The tight box [x1, y1, x2, y2] of the pixels equal to v in a 2-D plane [H, W]
// ([] when there are none): how the augmentation tests check that a box still
// frames its pixels.
import type { Tensor } from 'arsenal';

export function frame(plane: Tensor, v: number): number[] {
  const m = plane.eq(v);
  const rows = m.any(1).nonzero().reshape(-1).toArray() as number[];
  const cols = m.any(0).nonzero().reshape(-1).toArray() as number[];
  return rows.length ? [cols[0], rows[0], cols[cols.length - 1] + 1, rows[rows.length - 1] + 1] : [];
}
