export { ClassificationMeter, scoreLogits } from './classification.js';
