// The config layer: the sections every task shares, derived from their schemas, and overrides.
export * from './sections.js';
export { applyOverrides } from './overrides.js';
