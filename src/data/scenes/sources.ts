// Where the scenes' real pixels come from (the packages are installed by
// `arsenal data scenes`, src/commands/data.ts):
//   objects:     @lobehub/fluent-emoji-3d (npm, MIT): Microsoft's Fluent Emoji 3D renders,
//                256×256 WebP with alpha, file names = code points;
//   classes:     emoji-datasource (npm, MIT): emoji.json's categories (classes.ts);
//   backgrounds: photographs of Debian's lomiri-wallpapers-16.04 and mate-backgrounds
//                (the paintings, patterns and logos of those packages are left out).

/** npm packages, pinned: another version could change the renders or the categories, so the data. */
export const NPM_MATERIAL = { emoji: '@lobehub/fluent-emoji-3d@1.1.0', categories: 'emoji-datasource@16.0.0' } as const;

/** Inside an npm prefix: the renders' folder and the categories' file. */
export const EMOJI_ASSETS = 'node_modules/@lobehub/fluent-emoji-3d/assets';
export const EMOJI_JSON = 'node_modules/emoji-datasource/emoji.json';

/** The Debian packages of the background photographs and the photographs of each. */
export const PHOTO_PACKAGES: Readonly<Record<string, readonly string[]>> = {
  'lomiri-wallpapers-16.04': [
    'Bridge_by_Sander_Klootwijk.jpg', 'Dragonfly_by_Bolly.jpg', 'Picture_0B_by_freespace.jpg', 'Picture_1A_by_freespace.jpg',
    'Wine_by_Jakkub_Mede.jpg', 'aitzgorri_by_Aitzol_Berasategi.jpg', 'free_by_Peter_Nerlich.jpg', 'friends_by_Aitzol_Berasategi.jpg',
    'greentock_by_Peter_Nerlich.jpg', 'life_by_Aitzol_Berasategi.jpg', 'picosdeeuropa_by_Aitzol_Berasategi.jpg',
    'seeding_by_Clements_Engelhardt.jpg', 'sunset_by_Aitzol_Berasategi.jpg',
  ].map((f) => `/usr/share/backgrounds/${f}`),
  'mate-backgrounds': [
    'Aqua.jpg', 'Blinds.jpg', 'Dune.jpg', 'FreshFlower.jpg', 'Garden.jpg', 'GreenMeadow.jpg',
    'LadyBird.jpg', 'RainDrops.jpg', 'Storm.jpg', 'TwoWings.jpg', 'Wood.jpg', 'YellowFlower.jpg',
  ].map((f) => `/usr/share/backgrounds/mate/nature/${f}`),
};
