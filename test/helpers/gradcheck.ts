// A small gradcheck: autograd gradients against central finite differences.
//
// The function's output y is reduced to a scalar L = sum(y * w) with fixed,
// non-uniform weights w (so every output element gets a different upstream
// gradient, as in torch.autograd.gradcheck's column-by-column check), then
// dL/dx from torch.autograd.grad is compared elementwise with
// (L(x + eps e_i) - L(x - eps e_i)) / (2 eps), for every element of every
// input that requires grad. Use float64 inputs and keep them small: the
// function runs twice per input element.
import assert from 'node:assert/strict';
import { torch, type Tensor } from 'arsenal';

export interface GradcheckOptions {
  /** finite-difference step (default 1e-6) */
  eps?: number;
  /** relative tolerance (default 1e-6) */
  rtol?: number;
  /** absolute tolerance (default 1e-8) */
  atol?: number;
}

export interface GradcheckMismatch { input: number; element: number; analytical: number; numerical: number }

export interface GradcheckResult {
  ok: boolean;
  /** per input that requires grad (null for the others) */
  analytical: (Float64Array | null)[];
  numerical: (Float64Array | null)[];
  maxAbsErr: number;
  mismatches: GradcheckMismatch[];
}

/** Fixed weights w_k = sin(k + 1) + 0.5 (shape of y, float64): deterministic, varied, mostly non-zero. */
function upstream(y: Tensor): Tensor {
  return torch.arange(1, y.numel() + 1, 1, { dtype: 'float64' }).sin().add(0.5).reshape(y.shape);
}

function scalarOf(fn: (...xs: Tensor[]) => Tensor, xs: Tensor[]): number {
  return torch.scope(() => {
    const y = fn(...xs);
    assert.equal(y.dtype, 'float64', 'gradcheck: the function must return float64 (pass float64 inputs)');
    return y.mul(upstream(y)).sum().item();
  });
}

export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  const eps = opts.eps ?? 1e-6, rtol = opts.rtol ?? 1e-6, atol = opts.atol ?? 1e-8;
  const wrt = inputs.map((t, i) => (t.requiresGrad ? i : -1)).filter((i) => i >= 0);
  assert.ok(wrt.length > 0, 'gradcheck: no input requires grad');
  for (const i of wrt) assert.equal(inputs[i].dtype, 'float64', `gradcheck: input ${i} must be float64`);

  // Analytical: torch.autograd.grad of L = sum(y * w).
  const analytical: (Float64Array | null)[] = inputs.map(() => null);
  torch.scope(() => {
    const y = fn(...inputs);
    const loss = y.mul(upstream(y)).sum();
    const grads = torch.autograd.grad(loss, wrt.map((i) => inputs[i]), { allowUnused: true });
    wrt.forEach((i, k) => {
      const g = grads[k];
      analytical[i] = g === null ? new Float64Array(inputs[i].numel()) : Float64Array.from(g.contiguous().dataSync() as Float64Array);
    });
  });

  // Numerical: central differences on contiguous leaf copies, perturbed in place through a zero-copy
  // view. Grad mode stays on (and the copies keep requiresGrad) so that a function which itself calls
  // torch.autograd.grad — a double-backward check — still works.
  const numerical: (Float64Array | null)[] = inputs.map(() => null);
  const base = inputs.map((t) => torch.scope(() => t.detach().contiguous().clone().requiresGrad_(t.requiresGrad)));
  try {
    for (const i of wrt) {
      const view = base[i].dataView() as Float64Array;
      const out = new Float64Array(view.length);
      for (let e = 0; e < view.length; e++) {
        const orig = view[e];
        view[e] = orig + eps;
        const fp = scalarOf(fn, base);
        view[e] = orig - eps;
        const fm = scalarOf(fn, base);
        view[e] = orig;
        out[e] = (fp - fm) / (2 * eps);
      }
      numerical[i] = out;
    }
  } finally {
    for (const b of base) b.dispose();
  }

  const mismatches: GradcheckMismatch[] = [];
  let maxAbsErr = 0;
  for (const i of wrt) {
    const a = analytical[i]!, n = numerical[i]!;
    assert.equal(a.length, n.length);
    for (let e = 0; e < a.length; e++) {
      const err = Math.abs(a[e] - n[e]);
      maxAbsErr = Math.max(maxAbsErr, err);
      if (!(err <= atol + rtol * Math.abs(n[e]))) mismatches.push({ input: i, element: e, analytical: a[e], numerical: n[e] });
    }
  }
  return { ok: mismatches.length === 0, analytical, numerical, maxAbsErr, mismatches };
}

/** gradcheck that fails the test with the first few mismatching elements. */
export function assertGradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  const r = gradcheck(fn, inputs, opts);
  if (!r.ok) {
    const lines = r.mismatches.slice(0, 5).map((m) => `  input ${m.input}[${m.element}]: autograd ${m.analytical}, finite difference ${m.numerical}`);
    assert.fail(`gradcheck: ${r.mismatches.length} gradient element(s) differ (max abs err ${r.maxAbsErr}):\n${lines.join('\n')}`);
  }
  // A gradient that is zero everywhere would pass trivially; make sure something was checked.
  assert.ok(r.analytical.some((a) => a !== null && a.some((v) => v !== 0)), 'gradcheck: every gradient is zero');
  return r;
}
