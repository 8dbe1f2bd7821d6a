// The scenes' object classes: emoji of emoji-datasource's emoji.json grouped by
// its Unicode subcategory (emoji-test.txt's "subgroup"), as Cut, Paste and Learn
// (Dwibedi et al., ICCV 2017) pools object instances per class. Each class is one
// subcategory, less the emoji that are not the class's kind of object (parts,
// signs, weapons, faces of animals that have a whole-body emoji too), or only
// the listed ones (the sport subcategory's balls). With the renders of
// @lobehub/fluent-emoji-3d 1.1.0 and emoji-datasource 16.0.0 the classes hold
// 11 to 55 emoji each (counts in the comments).

/** One class: its name (a folder name: no spaces), emoji.json's subcategory, and which of its emoji (emoji.json `name`, case-insensitive) are left out or the only ones kept. */
export interface ClassRule {
  name: string;
  subcategory: string;
  drop?: readonly string[];
  only?: readonly string[];
}

export const CLASS_RULES: readonly ClassRule[] = [
  // 55: whole animals, and the faces of animals drawn only as a face (wolf, fox, lion, ...)
  { name: 'mammal', subcategory: 'animal-mammal', drop: ['paw prints', 'pig nose', 'monkey face', 'dog face', 'cat face', 'tiger face', 'horse face', 'cow face', 'pig face', 'mouse face', 'rabbit face'] },
  { name: 'bird', subcategory: 'animal-bird', drop: ['feather', 'wing'] }, // 19
  { name: 'marine_animal', subcategory: 'animal-marine' }, // 17
  { name: 'bug', subcategory: 'animal-bug', drop: ['spider web', 'microbe'] }, // 14
  { name: 'fruit', subcategory: 'food-fruit' }, // 19
  { name: 'vegetable', subcategory: 'food-vegetable' }, // 17
  { name: 'flower', subcategory: 'plant-flower' }, // 12
  // 38: vehicles, not the signs, lights, rails, roads and stations of the subcategory
  { name: 'ground_vehicle', subcategory: 'transport-ground', drop: ['station', 'bus stop', 'motorway', 'railway track', 'oil drum', 'fuel pump', 'wheel', 'police cars revolving light', 'horizontal traffic light', 'vertical traffic light', 'octagonal sign', 'construction sign'] },
  { name: 'musical_instrument', subcategory: 'musical-instrument' }, // 11
  // 18: tools, not the weapons and symbols of the subcategory
  { name: 'tool', subcategory: 'tool', drop: ['dagger', 'crossed swords', 'bomb', 'boomerang', 'bow and arrow', 'shield', 'link symbol'] },
  // 13: the balls (and ball-with-bat/racquet/stick) of the sport subcategory
  { name: 'sport_ball', subcategory: 'sport', only: ['soccer ball', 'baseball', 'softball', 'basketball and hoop', 'volleyball', 'american football', 'rugby football', 'tennis racquet and ball', 'bowling', 'cricket bat and ball', 'field hockey stick and ball', 'lacrosse stick and ball', 'table tennis paddle and ball'] },
  { name: 'household_object', subcategory: 'household', drop: ['bubbles'] }, // 24
];

/** The fields of an emoji.json entry that are read. */
export interface EmojiEntry {
  name?: string | null;
  short_name?: string;
  unified: string;
  non_qualified?: string | null;
  subcategory: string;
  sort_order?: number;
}

export interface EmojiClass {
  name: string;
  /** The class's emoji: code points as in the render's file name (lower-case, '-' joined), emoji.json's name, in emoji.json's sort order. */
  emoji: { code: string; name: string }[];
}

/**
 * The classes of `rules` over an emoji.json: each class's emoji that `available`
 * has a render for (looked up by emoji.json's `unified` code points, then
 * `non_qualified`, lower-cased). An `only` name missing from emoji.json, or a
 * class left with fewer than 2 emoji (one for each split), is an error naming it.
 */
export function emojiClasses(entries: readonly EmojiEntry[], available: (code: string) => boolean, rules: readonly ClassRule[] = CLASS_RULES): EmojiClass[] {
  if (!Array.isArray(entries)) throw new TypeError('emojiClasses: emoji.json must hold an array of emoji entries');
  const nameOf = (e: EmojiEntry): string => (e.name ?? e.short_name ?? '').toLowerCase();
  return rules.map((rule) => {
    const drop = new Set(rule.drop ?? []);
    const only = rule.only ? new Set(rule.only) : null;
    const inSub = entries.filter((e) => e.subcategory === rule.subcategory).sort((a, b) => (a.sort_order ?? 0) - (b.sort_order ?? 0));
    if (only) {
      const names = new Set(inSub.map(nameOf));
      const missing = [...only].filter((n) => !names.has(n));
      if (missing.length > 0) throw new Error(`emojiClasses: class '${rule.name}' keeps ${missing.map((m) => `'${m}'`).join(', ')}, not in emoji.json's subcategory '${rule.subcategory}'`);
    }
    const emoji: { code: string; name: string }[] = [];
    for (const e of inSub) {
      const name = nameOf(e);
      if (drop.has(name) || (only && !only.has(name))) continue;
      const code = [e.unified, e.non_qualified].filter((c): c is string => typeof c === 'string').map((c) => c.toLowerCase()).find(available);
      if (code !== undefined) emoji.push({ code, name });
    }
    if (emoji.length < 2) throw new Error(`emojiClasses: class '${rule.name}' (subcategory '${rule.subcategory}') has ${emoji.length} emoji with a render; it needs at least 2 (one for each split)`);
    return { name: rule.name, emoji };
  });
}
