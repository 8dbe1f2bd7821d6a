// `--set a.b.c=value` overrides on a plain-data config.

/** Applies `a.b.c=value` overrides (value parsed as JSON when it parses, else a string; null deletes the key). */
export function applyOverrides(cfg: Record<string, any>, sets: string[], flag = '--set'): void {
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new TypeError(`${flag} ${s}: expected key.path=value`);
    const path = s.slice(0, eq).split('.');
    const raw = s.slice(eq + 1);
    let value: unknown;
    try { value = JSON.parse(raw); } catch { value = raw; }
    let o = cfg;
    for (const k of path.slice(0, -1)) {
      if (o[k] === undefined) o[k] = {};
      if (typeof o[k] !== 'object' || o[k] === null) throw new TypeError(`${flag} ${s}: '${k}' is not an object in the config`);
      o = o[k];
    }
    // `key=null` deletes the key: the way to switch a recipe's trick off from the command line.
    if (value === null) delete o[path[path.length - 1]];
    else o[path[path.length - 1]] = value;
  }
}
