#!/usr/bin/env node
// A classifier's weights reduced to the backbone a dense model starts from
// (model.backbonePretrained): the classifier's head dropped (the same naming
// rules as src/models/backbone_transfer.ts), weight tensors of 2 or more
// dimensions stored as float16 (half the bytes; loading casts them back to the
// model's float32), norms' statistics and biases left in float32. Small enough
// to commit, so that a study spread over sessions starts every run from the
// same weights (weights/README.md).
//
//   node scripts/backbone-file.mjs work_dirs/scenes-backbone/best.safetensors weights/OUT.safetensors [--note 'how it was made']
import { existsSync } from 'node:fs';
import { loadFile, saveFile } from '../dist/src/torch/safetensors.js';
import { backboneKeyMap } from '../dist/src/models/backbone_transfer.js';

const [input, output, ...rest] = process.argv.slice(2);
const usage = "usage: node scripts/backbone-file.mjs CLASSIFIER.safetensors OUT.safetensors [--note TEXT]";
if (!input || !output || input.startsWith('--')) { console.error(usage); process.exit(2); }
if (!existsSync(input)) { console.error(`backbone-file: no such file '${input}'`); process.exit(2); }
const note = rest[0] === '--note' ? rest[1] : undefined;
if (rest.length && (rest[0] !== '--note' || note === undefined)) { console.error(usage); process.exit(2); }

const sd = loadFile(input);
const map = backboneKeyMap(Object.keys(sd));
const out = {};
let dropped = 0;
for (const [k, target] of map) {
  if (target === null) { dropped++; continue; }
  if (target === undefined) { console.error(`backbone-file: '${k}' in '${input}' is neither backbone nor classifier: not a classifier file this script knows`); process.exit(2); }
  const t = sd[k];
  out[k] = t.dtype === 'float32' && t.dim() >= 2 ? t.half() : t;
}
saveFile(out, output, { source: input, ...(note ? { note } : {}) });
console.log(`${output}: ${Object.keys(out).length} backbone tensors (${dropped} classifier tensors dropped), weights as float16`);
