// A small argv parser: positionals, --flag, --key value, --key=value and repeatable --set.
export interface Parsed { positional: string[]; flags: Map<string, string | true>; sets: string[]; lists: Map<string, string[]> }

/** `repeat` names options that may be given several times (collected in `lists`, in order). */
export function parseArgs(argv: string[], known: { boolean: string[]; value: string[]; repeat?: string[] }): Parsed {
  const out: Parsed = { positional: [], flags: new Map(), sets: [], lists: new Map() };
  const repeat = known.repeat ?? [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { out.positional.push(a); continue; }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (known.boolean.includes(name)) {
      if (eq > 0) throw new TypeError(`--${name} takes no value`);
      out.flags.set(name, true);
    } else if (known.value.includes(name) || repeat.includes(name) || name === 'set') {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new TypeError(`--${name} needs a value`);
      if (name === 'set') out.sets.push(v);
      else if (repeat.includes(name)) { const l = out.lists.get(name) ?? []; l.push(v); out.lists.set(name, l); out.flags.set(name, v); }
      else out.flags.set(name, v);
    } else {
      throw new TypeError(`unknown option --${name} (expected ${[...known.boolean, ...known.value, ...repeat, 'set'].map((x) => `--${x}`).join(', ')})`);
    }
  }
  return out;
}

export function intFlag(p: Parsed, name: string): number | undefined {
  const v = p.flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`--${name}: expected a non-negative integer, got '${String(v)}'`);
  return n;
}
