// Scenes of real pixels for segmentation and detection (Cut, Paste and Learn):
// emoji renders pasted on photographs, written once to disk (generate.ts).
export { CLASS_RULES, emojiClasses, type ClassRule, type EmojiClass, type EmojiEntry } from './classes.js';
export { NPM_MATERIAL, EMOJI_ASSETS, EMOJI_JSON, PHOTO_PACKAGES } from './sources.js';
export { fluentEmojiMaterial, loadEmojiBank, loadPhotos, textureLevels, EMOJI_SIDE, type SceneMaterial, type SceneClassMaterial, type EmojiBank } from './material.js';
export { planScene, type SceneOptions, type ScenePlan, type ObjectPlan, type ScenePools } from './plan.js';
export { composeScenes, decodeRle, type ComposedBatch, type ComposedObject, type ComposeOptions } from './compose.js';
export { backgrounds, type Photo } from './background.js';
export { generateScenes, GENERATOR, SPLITS, type GenerateScenesOptions, type ScenesMeta, type SplitCounts, type SceneSplit } from './generate.js';
