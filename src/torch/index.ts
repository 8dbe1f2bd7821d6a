// The `torch` namespace: PyTorch's names in camelCase.
export { Tensor, where, type Scalar, type TensorOrScalar, type IndexSpec } from './tensor.js';
export * from './creation.js';
export * from './join.js';
export * from './foreach.js';
export { noGrad, enableGrad, isGradEnabled, setGradEnabled, autocast, isAutocastEnabled, manualSeed, initialSeed, getRngState, setRngState,
  setNumThreads, getNumThreads, useDeterministicAlgorithms, info, bf16Support, type TorchInfo, type Bf16Support, type AutocastOptions } from './runtime.js';
export { scope, keep, inScope } from './scope.js';
export { memory, resetPeakMemory, trimMemory, setLeakWarningThreshold, leakWarningThreshold, type MemoryInfo } from './memory.js';
export { type DType, DTYPES, isFloating, itemSize } from './dtype.js';
export * as autograd from './autograd.js';
export * as safetensors from './safetensors.js';
export * as ops from './generic.js';
export * as functional from './functional.js';

import type { Tensor } from './tensor.js';
/** Disposes tensors (arrays and plain objects of tensors too). */
export function dispose(x: Tensor | Tensor[] | Record<string, Tensor> | null | undefined): void {
  if (!x) return;
  if (Array.isArray(x)) for (const t of x) t?.dispose();
  else if (typeof (x as Tensor).dispose === 'function') (x as Tensor).dispose();
  else for (const t of Object.values(x)) t?.dispose();
}
