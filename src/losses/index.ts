// Losses: focal, Dice, box losses, class weights from counts, and
// several losses as one with fixed or automatic weighting. Cross-entropy with
// weights, ignoreIndex, label smoothing and soft targets is F.crossEntropy;
// segmentation's cross-entropy with its named normaliser (mmseg's or PyTorch's)
// is segCrossEntropy, and Lovász-softmax is lovaszSoftmax.
export { classWeights, CLASS_WEIGHT_METHODS, type ClassWeightMethod } from './class_weights.js';
export { sigmoidFocalLoss, softmaxFocalLoss, type SoftmaxFocalOptions, type Reduction } from './focal.js';
export { diceLoss, type DiceOptions } from './dice.js';
export { segCrossEntropy, segCrossEntropyNormaliser, type SegCrossEntropyOptions, type SegNormaliser } from './seg_cross_entropy.js';
export { lovaszSoftmax, type LovaszOptions } from './lovasz.js';
export { iouLoss, giouLoss, diouLoss, ciouLoss } from './box.js';
export { MultiLoss, type LossTerm, type Weighting } from './multi_loss.js';
