// The config layer: the sections every task shares, derived from their schemas, and overrides.
export * from './sections.js';
export { applyOverrides } from './overrides.js';
/** The typed checks the sections are written with, for a task's own config schema (docs/architecture.md). */
export * as schema from '../util/schema.js';
