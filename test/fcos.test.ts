// FCOS against torchvision 0.14, from fixtures made once with PyTorch 1.13 /
// torchvision 0.14 (Debian's python3-torch and python3-torchvision, never a
// dependency of Arsenal or of `npm test`):
//   /usr/bin/python3 test/fixtures/models/make_fcos_fixture.py
// (the script says how each model, its weights and statistics were made):
//   fcos_reference.json                  keys, order, shapes, kinds, parameter counts and frozen parameters of
//                                        full-size torchvision FCOS models; the tiny model's targets and losses
//   torchvision_fcos_tiny.safetensors    a small FCOS (ResNet-18 layout at width 8, FPN / head 64, 2 convs, 5 classes)
//   torchvision_fcos_tiny_io.safetensors its input, eval-mode head outputs, points, matching, the losses' gradients,
//                                        and postprocess_detections' candidates, NMS keep indices and detections
// NMS can be injected (the default is Arsenal's batchedNms, src/ops/nms.ts):
// the postprocessing tests give it torchvision's keep indices after checking
// it was handed torchvision's candidates; one test runs the default end to
// end. Imports only from 'arsenal'.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as arsenal from 'arsenal';
import { torch, nn, models, type Tensor } from 'arsenal';

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/models/${name}`, import.meta.url));
type Entry = [string, number[], 'p' | 'b'];
type FullName = 'fcos_resnet50_fpn_batch' | 'fcos_resnet50_fpn_frozen' | 'fcos_resnet50_fpn_batch3' | 'fcos_resnet18_fpn_frozen' | 'fcos_mobilenet_v3_large_fpn';
type Losses = { classification: number; bbox_regression: number; bbox_ctrness: number };
interface Ref {
  full: Record<FullName, { state: Entry[]; numParameters: number; frozen: string[] }>;
  tinyFrozenKeys: string[];
  targets: { boxes: number[][]; labels: number[] }[];
  losses: Losses;
  lossesEmpty: Losses;
  numForeground: number;
}

let ref: Ref;
let sd: Record<string, Tensor> = {};
let io: Record<string, Tensor> = {};
before(() => {
  ref = JSON.parse(readFileSync(fixture('fcos_reference.json'), 'utf8')) as Ref;
  sd = torch.safetensors.loadFile(fixture('torchvision_fcos_tiny.safetensors'));
  io = torch.safetensors.loadFile(fixture('torchvision_fcos_tiny_io.safetensors'));
});
after(() => {
  torch.dispose(sd);
  torch.dispose(io);
});

/** The fixture's tiny model: fcosResnet18Fpn at width 8, FPN and head 64, 2 convs, 5 classes, all trainable. */
const tiny = (normLayer: 'batch' | 'frozen') => models.fcosResnet18Fpn({ numClasses: 5, width: 8, outChannels: 64, numConvs: 2, normLayer, trainableBackboneLayers: 5 });

/** [key, shape, kind] in state-dict order, kind 'p' for a parameter, 'b' for a buffer (as the fixture). */
function entries(m: nn.Module): Entry[] {
  const params = new Set([...m.namedParameters()].map(([k]) => k));
  return Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape, params.has(k) ? 'p' : 'b']);
}
const frozenNames = (m: nn.Module) => [...m.namedParameters()].filter(([, p]) => !p.requiresGrad).map(([k]) => k);

/**
 * Within `tol` (absolute) of torchvision's. Both sides are fp32 from the same
 * weights, so a difference can only come from the order of fp32 sums (convs,
 * BN, GroupNorm: other kernels, thread counts, ISAs), ~1e-6 relative on
 * outputs below 10; a mistake (a swapped level, a bias in the wrong place, a
 * GroupNorm over the wrong groups, P6 from C5 instead of P5) moves them by 1e-2 or more.
 */
function assertClose(got: Tensor, want: Tensor, what: string, tol = 1e-4): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  if (want.numel() === 0) return;
  const worst = got.to({ dtype: 'float32' }).sub(want.to({ dtype: 'float32' })).abs().max().item();
  assert.ok(worst <= tol, `${what}: max |Arsenal - torchvision| = ${worst}`);
}
function assertEqualInts(got: Tensor, want: Tensor, what: string): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  assert.deepEqual(got.toArray(), want.toArray(), what);
}

const targets = () => ref.targets.map((t) => ({
  boxes: torch.tensor(t.boxes.length ? t.boxes : [], { dtype: 'float32' }).reshape(-1, 4),
  labels: torch.tensor(t.labels, { dtype: 'int64' }),
}));

/** The tiny model (torchvision's weights, eval mode) on the fixture's input. */
function tinyOutputs(normLayer: 'batch' | 'frozen' = 'batch'): { m: models.FCOS; out: models.FCOSOutputs } {
  const m = tiny(normLayer);
  m.loadStateDict(sd);
  m.eval();
  return { m, out: torch.noGrad(() => m.forward(io.input)) };
}

test("full-size FCOS models have torchvision's keys, order, shapes, parameter counts and frozen parameters", () => {
  const built: [FullName, () => models.FCOS][] = [
    ['fcos_resnet50_fpn_batch', () => models.buildDetectionModel('fcos_resnet50_fpn', { normLayer: 'batch', trainableBackboneLayers: 5 })],
    ['fcos_resnet50_fpn_frozen', () => models.buildDetectionModel('fcos_resnet50_fpn')],
    ['fcos_resnet50_fpn_batch3', () => models.fcosResnet50Fpn({ normLayer: 'batch' })],
    ['fcos_resnet18_fpn_frozen', () => models.buildDetectionModel('fcos_resnet18_fpn')],
    ['fcos_mobilenet_v3_large_fpn', () => models.buildDetectionModel('fcos_mobilenet_v3_large_fpn')],
  ];
  for (const [name, build] of built) {
    const m = build();
    assert.deepEqual(entries(m), ref.full[name].state, name);
    assert.equal(m.numParameters(), ref.full[name].numParameters, name);
    assert.deepEqual(frozenNames(m), ref.full[name].frozen, `${name}: requires_grad false`);
    assert.deepEqual(Object.keys(m.stateDict({ keys: 'torchvision' })), ref.full[name].state.map(([k]) => k), name);
    m.dispose();
  }
  // torchvision's published count for fcos_resnet50_fpn (FCOS_ResNet50_FPN_Weights.COCO_V1 meta num_params).
  assert.equal(ref.full.fcos_resnet50_fpn_frozen.numParameters, 32269600);
});

test("the tiny FCOS loads torchvision's state dict strictly; cls_logits, bbox_regression, bbox_ctrness and the points equal torchvision's", () => {
  torch.scope(() => {
    const { m, out } = tinyOutputs('batch');
    assert.deepEqual(Object.keys(m.stateDict()), Object.keys(sd), "torchvision's keys in its order");
    assert.equal(m.stateDict()['backbone.body.layer3.1.bn2.num_batches_tracked'].item(), 3, 'buffers land too');
    assertClose(out.clsLogits, io.cls_logits, 'cls_logits');
    assertClose(out.bboxRegression, io.bbox_regression, 'bbox_regression');
    assertClose(out.bboxCtrness, io.bbox_ctrness, 'bbox_ctrness');
    // torchvision's AnchorGenerator on a 96x128 image: strides 96 // h, 128 // w (P6's rows 48 apart, not 64).
    assert.ok(out.anchors.equal(io.anchors), 'anchors equal exactly');
    assert.deepEqual(out.numAnchorsPerLevel, [192, 48, 12, 4, 1]);
    assert.deepEqual(out.imageSize, [96, 128]);
    m.dispose();
  });
});

test('FrozenBatchNorm2d: the pretrained-style model drops num_batches_tracked (strict), has no norm parameters, and gives the same outputs', () => {
  torch.scope(() => {
    const m = tiny('frozen');
    assert.deepEqual(Object.keys(m.stateDict()), ref.tinyFrozenKeys, "torchvision's FrozenBatchNorm2d keys");
    assert.ok(Object.keys(sd).some((k) => k.endsWith('num_batches_tracked')), 'the fixture is a BatchNorm2d dict');
    assert.deepEqual(m.loadStateDict(sd), { missingKeys: [], unexpectedKeys: [] }, "a BatchNorm2d dict loads strictly (torchvision's _load_from_state_dict drops num_batches_tracked)");
    const frozenDict = Object.fromEntries(Object.entries(sd).filter(([k]) => !k.endsWith('num_batches_tracked')));
    assert.deepEqual(m.loadStateDict(frozenDict), { missingKeys: [], unexpectedKeys: [] }, 'a FrozenBatchNorm2d dict loads strictly');
    const b = tiny('batch');
    const r = b.loadStateDict(frozenDict);
    assert.equal(r.missingKeys.length, 20, 'into BatchNorm2d: only num_batches_tracked missing, allowed');
    assert.ok(r.missingKeys.every((k) => k.endsWith('.num_batches_tracked')));
    const body = m.backbone.body as models.ResNetBackbone;
    assert.ok(body.bn1 instanceof nn.FrozenBatchNorm2d);
    assert.ok(![...m.namedParameters()].some(([k]) => /\.bn\d\.|downsample\.1\./.test(k)), 'no norm parameters in the body');
    m.eval();
    const out = torch.noGrad(() => m.forward(io.input));
    assertClose(out.clsLogits, io.cls_logits, 'frozen cls_logits');
    assertClose(out.bboxRegression, io.bbox_regression, 'frozen bbox_regression');
    assertClose(out.bboxCtrness, io.bbox_ctrness, 'frozen bbox_ctrness');
    // Training mode changes nothing in a FrozenBatchNorm2d.
    const bn1 = body.bn1 as nn.FrozenBatchNorm2d;
    const before = bn1.runningMean.clone();
    m.train();
    torch.noGrad(() => m.forward(io.input));
    assert.ok(bn1.runningMean.equal(before));
    // loadPretrained (a safetensors file, as configs load it) takes the BatchNorm2d file into the frozen model strictly.
    const res = models.loadPretrained(m, fixture('torchvision_fcos_tiny.safetensors'));
    assert.deepEqual([res.skipped, res.missing], [[], []]);
    for (const x of [m, b]) x.dispose();
  });
});

test("a classifier's backbone (torchvision's weights_backbone) lands in backbone.body, its num_batches_tracked dropped by the frozen norms", () => {
  torch.scope(() => {
    const cls = models.resnet18({ width: 8, numClasses: 7 });
    for (const m of cls.modules()) if (m instanceof nn.BatchNorm2d) torch.noGrad(() => { m.runningVar!.uniform_(0.5, 2); m.getBuffer('num_batches_tracked').fill_(5); });
    const det = tiny('frozen');
    for (const [naming, dict] of [['torchvision', cls.stateDict({ keys: 'torchvision' })], ['arsenal', cls.stateDict()]] as const) {
      const r = models.loadBackbone(det, dict);
      assert.equal(r.naming, naming);
      assert.deepEqual(r.dropped, naming === 'torchvision' ? ['fc.weight', 'fc.bias'] : ['head.fc.weight', 'head.fc.bias']);
      assert.equal(r.loaded.length, Object.keys(det.stateDict()).filter((k) => k.startsWith('backbone.body.')).length, 'every body tensor loaded');
      assert.ok(det.stateDict()['backbone.body.layer4.1.bn2.running_var'].equal(cls.stateDict()['backbone.layer4.1.bn2.running_var']));
    }
    cls.dispose();
    det.dispose();
  });
});

test("FrozenBatchNorm2d alone is torchvision's: buffers weight, bias, running_mean, running_var; BatchNorm2d's eval output", () => {
  torch.scope(() => {
    const f = new nn.FrozenBatchNorm2d(3);
    assert.deepEqual(Object.keys(f.stateDict()), ['weight', 'bias', 'running_mean', 'running_var']);
    assert.equal(f.parameters().length, 0);
    const bn = new nn.BatchNorm2d(3);
    const stats = { weight: torch.tensor([0.5, 1.5, -1]), bias: torch.tensor([0.1, -0.2, 0.3]), running_mean: torch.tensor([1, -2, 0.5]), running_var: torch.tensor([0.25, 4, 1e-6]) };
    f.loadStateDict(stats);
    bn.loadStateDict(stats, { strict: false });
    const x = torch.randn(2, 3, 4, 5);
    assertClose(f.forward(x), torch.noGrad(() => bn.eval().forward(x)), 'FrozenBatchNorm2d vs BatchNorm2d eval', 1e-3);
    f.dispose();
    bn.dispose();
  });
});

test("matching equals torchvision's (centre sampling 1.5, scale ranges from the anchor sizes, least area; an image with no boxes all background)", () => {
  torch.scope(() => {
    const t = targets();
    t.forEach((ti, i) => {
      const got = models.fcosMatch(io.anchors, [192, 48, 12, 4, 1], ti.boxes, 1.5);
      assertEqualInts(got, io.matched.select(0, i), `image ${i}`);
    });
    assert.equal(io.matched.ge(0).sum().item(), ref.numForeground);
    assert.ok(ref.numForeground > 20, 'the fixture has foreground on several levels');
    // P4 (points 192..239) takes the large box of image 0, P3 the small ones.
    const lv = io.matched.select(0, 0);
    assert.ok(lv.narrow(0, 192, 48).ge(0).any().item() && lv.narrow(0, 0, 192).ge(0).any().item());
  });
});

test("training losses equal torchvision's FCOS.compute_loss (1e-4), gradients too; an image with no boxes, and a batch with none", () => {
  torch.scope(() => {
    const leaf = (t: Tensor) => t.clone().requiresGrad_(true);
    const out = { clsLogits: leaf(io.cls_logits), bboxRegression: leaf(io.bbox_regression), bboxCtrness: leaf(io.bbox_ctrness), anchors: io.anchors, numAnchorsPerLevel: [192, 48, 12, 4, 1] };
    const l = models.fcosLoss(out, targets());
    const want = ref.losses;
    for (const [k, v] of [['classification', want.classification], ['bboxRegression', want.bbox_regression], ['bboxCtrness', want.bbox_ctrness]] as const) {
      const got = l[k].item();
      assert.ok(Math.abs(got - v) <= 1e-4, `${k}: ${got} vs torchvision's ${v}`);
    }
    l.classification.add(l.bboxRegression).add(l.bboxCtrness).backward();
    assertClose(out.clsLogits.grad!, io.grad_cls_logits, 'd/d cls_logits', 1e-6);
    assertClose(out.bboxRegression.grad!, io.grad_bbox_regression, 'd/d bbox_regression', 1e-6);
    assertClose(out.bboxCtrness.grad!, io.grad_bbox_ctrness, 'd/d bbox_ctrness', 1e-6);
    assert.ok(io.grad_bbox_regression.abs().max().item() > 1e-3, 'the fixture has regression gradients');

    const none = Array.from({ length: 3 }, () => ({ boxes: torch.zeros([0, 4]), labels: torch.zeros([0], { dtype: 'int64' }) }));
    const e = torch.noGrad(() => models.fcosLoss(out, none));
    assert.ok(Math.abs(e.classification.item() - ref.lossesEmpty.classification) <= 1e-4, 'no boxes: classification');
    assert.equal(e.bboxRegression.item(), 0);
    assert.equal(e.bboxCtrness.item(), 0);
  });
});

test('the model trains: its loss method, frozen stages get no gradient, the rest do', () => {
  torch.scope(() => {
    const m = models.fcosResnet18Fpn({ numClasses: 5, width: 8, outChannels: 32, numConvs: 1 });
    m.train();
    const out = m.forward(torch.randn(2, 3, 64, 96));
    const l = m.loss(out, [{ boxes: torch.tensor([[4, 6, 30, 40], [20, 10, 90, 60]], { dtype: 'float32' }), labels: torch.tensor([1, 4], { dtype: 'int64' }) }, { boxes: torch.zeros([0, 4]), labels: torch.zeros([0], { dtype: 'int64' }) }]);
    for (const v of Object.values(l)) assert.ok(Number.isFinite(v.item()) && v.item() > 0);
    l.classification.add(l.bboxRegression).add(l.bboxCtrness).backward();
    const noGrad = [...m.namedParameters()].filter(([, p]) => p.grad === null).map(([k]) => k);
    assert.deepEqual(noGrad, frozenNames(m), 'exactly the frozen parameters have no gradient');
    assert.deepEqual(noGrad, ['backbone.body.conv1.weight', ...frozenNames(m).slice(1)]);
    assert.ok(noGrad.every((k) => k.startsWith('backbone.body.conv1') || k.startsWith('backbone.body.layer1.')), 'trainable_backbone_layers 3: conv1 and layer1 frozen');
    m.zeroGrad();
    m.dispose();
    // The MobileNetV3 layout: features 4, 7, 16 (strides 8, 16, 32), then P6, P7.
    const mb = models.fcosMobileNetV3LargeFpn({ widthMult: 0.5, outChannels: 32, numClasses: 3 });
    const o = torch.noGrad(() => mb.eval().forward(torch.randn(1, 3, 64, 96)));
    assert.deepEqual(o.numAnchorsPerLevel, [8 * 12, 4 * 6, 2 * 3, 1 * 2, 1]);
    assert.deepEqual(o.clsLogits.shape, [1, 129, 3]);
    mb.dispose();
  });
});

/** torchvision's candidates and detections of run `p`, image `i`. */
const tv = (p: number, i: number, what: string) => io[`pp${p}_${i}_${what}`];
/**
 * Boxes in pixels are distances in anchor sizes (8..128 px) times the anchor
 * size: the head's ~1e-5 differences become up to ~1e-3 px on P7 (measured
 * 1.0e-4 with AVX2 kernels). A wrong point, stride or level moves a box by 4 px or more.
 */
const BOX_TOL = 2e-3;

for (const [p, opts] of [[0, {}], [1, { topkCandidates: 5, detectionsPerImg: 4 }]] as const) {
  test(`postprocess (${p === 0 ? "torchvision's defaults" : 'topkCandidates 5, detectionsPerImg 4'}): candidates before NMS equal torchvision's; after an NMS stub with its keep indices, its detections`, () => {
    torch.scope(() => {
      const { m, out } = tinyOutputs();
      const cands = models.fcosCandidates(out, opts);
      cands.forEach((c, i) => {
        assertClose(c.boxes, tv(p, i, 'cand_boxes'), `image ${i} candidate boxes`, BOX_TOL);
        assertClose(c.scores, tv(p, i, 'cand_scores'), `image ${i} candidate scores`, 1e-5);
        assertEqualInts(c.labels, tv(p, i, 'cand_labels'), `image ${i} candidate labels`);
      });
      let call = 0;
      const stub: models.BatchedNms = (boxes, scores, idxs, iou) => {
        const i = call++;
        assert.equal(iou, 0.6);
        assertClose(boxes, tv(p, i, 'cand_boxes'), `nms input ${i}`, BOX_TOL);
        assertClose(scores, tv(p, i, 'cand_scores'), `nms scores ${i}`, 1e-5);
        assertEqualInts(idxs, tv(p, i, 'cand_labels'), `nms idxs ${i}`);
        return tv(p, i, 'keep').clone();
      };
      const dets = m.postprocess(out, stub, opts);
      assert.equal(call, 3);
      dets.forEach((d, i) => {
        assertClose(d.boxes, tv(p, i, 'boxes'), `image ${i} boxes`, BOX_TOL);
        assertClose(d.scores, tv(p, i, 'scores'), `image ${i} scores`, 1e-5);
        assertEqualInts(d.labels, tv(p, i, 'labels'), `image ${i} labels`);
        assert.ok(tv(p, i, 'keep').shape[0] > d.scores.shape[0] || p === 0, 'detectionsPerImg cuts');
      });
      m.dispose();
    });
  });
}

test("postprocess with Arsenal's batchedNms (src/ops/nms.ts, the default) gives torchvision's detections", () => {
  torch.scope(() => {
    const { m, out } = tinyOutputs();
    for (const [p, opts] of [[0, {}], [1, { topkCandidates: 5, detectionsPerImg: 4 }]] as const) {
      m.postprocess(out, undefined, opts).forEach((d, i) => {
        assertClose(d.boxes, tv(p, i, 'boxes'), `run ${p} image ${i} boxes`, BOX_TOL);
        assertEqualInts(d.labels, tv(p, i, 'labels'), `run ${p} image ${i} labels`);
      });
    }
    m.dispose();
  });
});

test("postprocess presets: torchvision's sqrt(σ(cls)·σ(ctr)) ranked and thresholded; mmdet's σ(cls) thresholded, then × σ(ctr), degenerate boxes dropped", () => {
  torch.scope(() => {
    const logit = (p: number) => Math.log(p / (1 - p));
    // One image, one level of 3 points, 2 classes; anchors of size 8 at x = 0, 8, 16.
    const cls = [[0.04, 0.9], [0.5, 0.01], [0.3, 0.2]].map((r) => r.map(logit));
    const ctr = [0.9, 0.5, 0.2].map(logit);
    const out: models.FCOSPostprocessInput = {
      clsLogits: torch.tensor([cls]),
      bboxRegression: torch.tensor([[[0.5, 0.5, 0.5, 0.5], [0.25, 0.5, 0.25, 0.5], [0, 0.5, 0, 0.5]]]),
      bboxCtrness: torch.tensor([ctr.map((c) => [c])]),
      anchors: torch.tensor([[-4, -4, 4, 4], [4, -4, 12, 4], [12, -4, 20, 4]]),
      numAnchorsPerLevel: [3],
      imageSize: [10, 30],
    };
    const rows = (d: models.FCOSDetections) => (d.labels.toArray() as number[]).map((l, j) => [l, +(d.scores.toArray() as number[])[j].toFixed(4)]);
    // torchvision: sqrt products 0.190 (0.04·0.9), 0.900 (0.9·0.9), 0.5, 0.071, 0.245, 0.2 (not > 0.2).
    const t = models.fcosCandidates(out)[0];
    assert.deepEqual(rows(t), [[1, 0.9], [0, 0.5], [0, 0.2449]]);
    assert.deepEqual(t.boxes.toArray(), [[0, 0, 4, 4], [6, 0, 10, 4], [16, 0, 16, 4]], 'decoded in anchor sizes, clipped to the 10x30 image');
    // mmdet: σ(cls) > 0.05 ranked (0.9, 0.5, 0.3, 0.2), scores × σ(ctr); the zero-width box of point 2 dropped (min_bbox_size 0).
    const mm = models.fcosCandidates(out, { preset: 'mmdet' })[0];
    assert.deepEqual(rows(mm), [[1, 0.81], [0, 0.25]]);
    assert.deepEqual(rows(models.fcosCandidates(out, { preset: 'mmdet', minBoxSize: null })[0]), [[1, 0.81], [0, 0.25], [0, 0.06], [1, 0.04]]);
    assert.deepEqual(rows(models.fcosCandidates(out, { preset: 'mmdet', topkCandidates: 1 })[0]), [[1, 0.81]]);
    let iou = -1;
    const all: models.BatchedNms = (b, s, _l, th) => { iou = th; return torch.arange(0, s.shape[0], 1, { dtype: 'int64' }); };
    assert.equal(models.fcosPostprocess(out, all, { preset: 'mmdet', detectionsPerImg: 1 })[0].scores.shape[0], 1);
    assert.equal(iou, 0.5, "mmdet's nms iou_threshold");
    assert.deepEqual(models.FCOS_POSTPROCESS_PRESETS.mmdet, { scoreThresh: 0.05, topkCandidates: 1000, nmsThresh: 0.5, detectionsPerImg: 100, minBoxSize: 0 });
    assert.deepEqual(models.FCOS_POSTPROCESS_PRESETS.torchvision, { scoreThresh: 0.2, topkCandidates: 1000, nmsThresh: 0.6, detectionsPerImg: 100, minBoxSize: null });
    // Nothing above the threshold: no call to NMS, empty detections.
    const d = models.fcosPostprocess(out, () => { throw new Error('not called'); }, { scoreThresh: 0.95 })[0];
    assert.deepEqual([d.boxes.shape, d.scores.shape, d.labels.shape], [[0, 4], [0], [0]]);
  });
});

test('bad options and inputs get errors that name them', () => {
  assert.throws(() => models.fcosResnet50Fpn({ outChannels: 48 }), /outChannels must be a multiple of 32/);
  assert.throws(() => models.fcosResnet18Fpn({ trainableBackboneLayers: 6 }), /fcosResnet18Fpn: trainableBackboneLayers must be an integer in \[0, 5\]/);
  assert.throws(() => models.fcosMobileNetV3LargeFpn({ normLayer: 'frozen' } as models.FCOSOptions), /unknown option 'normLayer'/);
  assert.throws(() => models.buildDetectionModel('fcos_resnet9_fpn'), /unknown 'fcos_resnet9_fpn' \(valid: fcos_resnet50_fpn/);
  assert.throws(() => models.buildDetectionModel('fcos_resnet18_fpn', { widthMult: 0.5 }), /option 'widthMult' does not apply/);
  assert.throws(() => new models.ResNetBackbone(models.ARCHS.resnet18, { normLayer: 'group' as 'batch' }), /normLayer must be 'batch' or 'frozen'/);
  assert.throws(() => models.fcosCandidates({} as models.FCOSPostprocessInput), /expected the model's output/);
  assert.throws(() => models.fcosCandidates({ clsLogits: torch.zeros([1, 3, 2]) } as unknown as models.FCOSPostprocessInput), /needs bboxRegression/);
  torch.scope(() => {
    const out = { clsLogits: io.cls_logits, bboxRegression: io.bbox_regression, bboxCtrness: io.bbox_ctrness, anchors: io.anchors, numAnchorsPerLevel: [192, 48, 12, 4, 1] };
    const t = targets();
    assert.throws(() => models.fcosLoss(out, t.slice(0, 2)), /expected targets for 3 images/);
    assert.throws(() => models.fcosLoss(out, [t[0], t[1], { boxes: torch.tensor([[5, 5, 5, 9]], { dtype: 'float32' }), labels: torch.tensor([0], { dtype: 'int64' }) }]), /targets\[2\]\.boxes\[0\] = \[5, 5, 5, 9\] has no positive width and height/);
    assert.throws(() => models.fcosLoss(out, [t[0], t[1], { boxes: torch.tensor([[5, 5, 8, 9]], { dtype: 'float32' }), labels: torch.tensor([5], { dtype: 'int64' }) }]), /targets\[2\]\.labels must be in \[0, 5\)/);
    assert.throws(() => models.fcosLoss(out, [t[0], t[1], { boxes: torch.tensor([5, 5, 8, 9], { dtype: 'float32' }), labels: torch.tensor([1], { dtype: 'int64' }) }]), /targets\[2\]\.boxes must be float \[M, 4\]/);
    assert.throws(() => models.fcosPostprocess({ ...out, imageSize: [96, 128] }, null as unknown as models.BatchedNms), /nms must be a function/);
    assert.throws(() => models.fcosCandidates({ ...out, imageSize: [96, 128] }, { scoreTresh: 0.1 } as models.FCOSPostprocessOptions), /unknown option 'scoreTresh'/);
  });
});
