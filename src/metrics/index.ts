export { ClassificationMeter } from './classification.js';
