// `arsenal data scenes --out DIR [--train 3000] [--val 500] [--size 192] [--seed 0] [--max-objects 6] [--overwrite]
//   [--emoji DIR --emoji-json FILE] [--backgrounds DIR] [--cache DIR]`:
// writes the scenes benchmark (src/data/scenes: emoji renders pasted on
// photographs; mmseg, VOC and COCO layouts and an ImageFolder of crops). Like
// `npm start` (scripts/setup.mjs), it installs what is missing and says so: the
// photographs' Debian packages (apt-get, as root), and the emoji renders and
// categories from npm into a cache folder (not the project's dependencies: 40 MB
// that only this command reads). --emoji / --emoji-json / --backgrounds take
// material already on disk instead.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, intFlag } from './args.js';
import { filesUnder } from '../data/files.js';
import { markdownTable } from '../util/table.js';
import {
  EMOJI_ASSETS, EMOJI_JSON, NPM_MATERIAL, PHOTO_PACKAGES, fluentEmojiMaterial, generateScenes, type ScenesMeta,
} from '../data/scenes/index.js';

export const DATA_USAGE = `usage:
  arsenal data scenes --out DIR [--train 3000] [--val 500] [--size 192] [--seed 0] [--max-objects 6] [--overwrite]
                      [--emoji DIR --emoji-json FILE] [--backgrounds DIR] [--cache DIR]`;

const say = (msg: string): void => console.log(`[data] ${msg}`);

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  say(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env });
  if (r.status !== 0) throw new Error(`'${cmd} ${args.join(' ')}' failed (exit ${r.status ?? r.signal})`);
}

/** The photographs of PHOTO_PACKAGES, installing the packages (apt-get, as root) when files are missing. */
function debianPhotos(): string[] {
  const photos = Object.values(PHOTO_PACKAGES).flat();
  const missing = Object.entries(PHOTO_PACKAGES).filter(([, files]) => files.some((f) => !existsSync(f))).map(([pkg]) => pkg);
  if (missing.length === 0) {
    say(`background photos present (${photos.length}, Debian packages ${Object.keys(PHOTO_PACKAGES).join(', ')})`);
    return photos;
  }
  const hint = `install them (apt-get install ${missing.join(' ')}) or give --backgrounds DIR (a folder of photographs)`;
  if (!existsSync('/etc/debian_version')) throw new Error(`data scenes: the background photos come from the Debian packages ${missing.join(', ')}; this is not Debian: give --backgrounds DIR (a folder of photographs)`);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) throw new Error(`data scenes: missing Debian packages ${missing.join(', ')} (background photos); as root, ${hint}`);
  say(`installing Debian packages (background photos): ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-q'], env);
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], env);
  const still = photos.filter((f) => !existsSync(f));
  if (still.length > 0) throw new Error(`data scenes: after installing ${missing.join(', ')}, still missing: ${still.join(', ')}`);
  return photos;
}

const versionOf = (spec: string): [string, string] => {
  const at = spec.lastIndexOf('@');
  return [spec.slice(0, at), spec.slice(at + 1)];
};

/** The npm material (NPM_MATERIAL, pinned) in `prefix`, installed there by npm when missing or of another version. */
function npmMaterial(prefix: string): { assets: string; emojiJson: string } {
  const specs = Object.values(NPM_MATERIAL);
  const present = specs.every((spec) => {
    const [name, version] = versionOf(spec);
    try {
      return JSON.parse(readFileSync(join(prefix, 'node_modules', name, 'package.json'), 'utf8')).version === version;
    } catch {
      return false;
    }
  });
  if (present) say(`emoji material present in ${prefix} (${specs.join(', ')})`);
  else {
    say(`installing npm packages (emoji renders and categories, about 40 MB) into ${prefix}: ${specs.join(' ')}`);
    mkdirSync(prefix, { recursive: true });
    const deps = Object.fromEntries(specs.map(versionOf));
    writeFileSync(join(prefix, 'package.json'), JSON.stringify({ name: 'arsenal-scenes-material', private: true, dependencies: deps }, null, 2) + '\n');
    run('npm', ['install', '--prefix', prefix, '--ignore-scripts', '--no-audit', '--no-fund', '--omit=dev']);
  }
  return { assets: join(prefix, EMOJI_ASSETS), emojiJson: join(prefix, EMOJI_JSON) };
}

function summary(meta: ScenesMeta): string {
  const rows: (string | number)[][] = meta.classes.slice(1).map((c) => [
    c, meta.emoji[c].train.length, meta.emoji[c].val.length, meta.counts.train.perClass[c], meta.counts.val.perClass[c],
  ]);
  const t = meta.counts.train, v = meta.counts.val;
  rows.push(['all', rows.reduce((a, r) => a + Number(r[1]), 0), rows.reduce((a, r) => a + Number(r[2]), 0), t.objects, v.objects]);
  return [
    markdownTable(['class', 'emoji train', 'emoji val', 'objects train', 'objects val'], rows),
    '',
    `images: ${t.images} train, ${v.images} val; photos: ${meta.photos.train.length} train, ${meta.photos.val.length} val; ` +
      `objects > ${(meta.options.maxHidden as number) * 100}% hidden (not annotated): ${t.hidden} train, ${v.hidden} val ` +
      `(${t.ignored} + ${v.ignored} left ignore pixels)`,
  ].join('\n');
}

export async function dataCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== 'scenes') throw new TypeError(`data: unknown dataset '${sub ?? ''}'\n${DATA_USAGE}`);
  const p = parseArgs(rest, { boolean: ['overwrite'], value: ['out', 'train', 'val', 'size', 'seed', 'max-objects', 'emoji', 'emoji-json', 'backgrounds', 'cache'] });
  if (p.positional.length > 0) throw new TypeError(`data scenes: unexpected argument '${p.positional[0]}'\n${DATA_USAGE}`);
  const out = p.flags.get('out');
  if (typeof out !== 'string') throw new TypeError(`data scenes: --out DIR is required\n${DATA_USAGE}`);
  const str = (name: string): string | undefined => {
    const v = p.flags.get(name);
    if (v === true) throw new TypeError(`data scenes: --${name} needs a value`);
    return v;
  };

  // Material: the options' folders, else the packages (installed when missing).
  const bgDir = str('backgrounds');
  const photos = bgDir !== undefined ? await filesUnder(resolve(bgDir), ['.jpg', '.jpeg', '.png'], { skipHidden: true }) : debianPhotos();
  if (bgDir !== undefined) say(`background photos: ${photos.length} in ${bgDir}`);
  let assets = str('emoji'), emojiJson = str('emoji-json');
  const sources: Record<string, unknown> = { backgrounds: bgDir !== undefined ? resolve(bgDir) : Object.keys(PHOTO_PACKAGES).map((k) => `debian:${k}`) };
  if (assets === undefined || emojiJson === undefined) {
    const cache = str('cache') ?? join(process.env.ARSENAL_CACHE ?? join(homedir(), '.cache', 'arsenal'), 'scenes-material');
    const npm = npmMaterial(resolve(cache));
    assets ??= npm.assets;
    emojiJson ??= npm.emojiJson;
  }
  sources.emoji = str('emoji') !== undefined ? resolve(assets) : `npm:${NPM_MATERIAL.emoji}`;
  sources.categories = str('emoji-json') !== undefined ? resolve(emojiJson) : `npm:${NPM_MATERIAL.categories}`;
  const material = await fluentEmojiMaterial(assets, emojiJson, photos);

  const opts = {
    out, train: intFlag(p, 'train'), val: intFlag(p, 'val'), size: intFlag(p, 'size'), seed: intFlag(p, 'seed'), maxObjects: intFlag(p, 'max-objects'),
    overwrite: p.flags.has('overwrite'),
  };
  const total = (opts.train ?? 3000) + (opts.val ?? 500);
  say(`writing ${total} scenes (${material.classes.length} classes) to ${out}`);
  const t0 = Date.now();
  let reported = 0;
  const meta = await generateScenes({
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as typeof opts, material, sources,
    onProgress: (split, done, n) => {
      if (done === n || done - reported >= 500 || done < reported) {
        reported = done;
        say(`${split}: ${done}/${n} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      }
    },
  });
  console.log(summary(meta));
  say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${join(out, 'meta.json')}`);
}
