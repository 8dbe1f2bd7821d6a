// Detection kernels libtorch lacks (torchvision and mmcv ship them as C++ ops
// of their own): NMS (torchvision 0.14 csrc/ops/cpu/nms_kernel.cpp), batched
// NMS (torchvision ops/boxes.py batched_nms), Soft-NMS (mmcv
// ops/csrc/pytorch/cpu/nms.cpp softnms_cpu; Bodla et al. 2017) and weighted
// boxes fusion (ZFTurbo's ensemble_boxes_wbf.py; Solovyev et al. 2019). Each
// runs on the CPU without autograd; inputs on another device are copied to the
// CPU and the results copied back. src/ops checks the arguments first; the
// checks here only keep a wrong call from reaching a kernel.
#include "state.h"
#include <ATen/Dispatch.h>
#include <ATen/core/grad_mode.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

namespace arsenal {

static double numberArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

// A detached, contiguous CPU copy (or the tensor itself when it already is one).
static at::Tensor cpu(const at::Tensor& t) { return t.detach().to(at::kCPU).contiguous(); }

static void checkBoxes(const at::Tensor& boxes, const at::Tensor& scores, const char* who) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, who, ": boxes must be [N, 4], got ", boxes.sizes());
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0), who, ": scores must be [", boxes.size(0), "], got ", scores.sizes());
  TORCH_CHECK(boxes.scalar_type() == scores.scalar_type(), who, ": boxes and scores must have one dtype");
  TORCH_CHECK(boxes.scalar_type() == at::kFloat || boxes.scalar_type() == at::kDouble, who, ": boxes must be float32 or float64");
}

// ---- NMS: torchvision 0.14's CPU kernel, step for step ------------------------------------------
// Scores are sorted with stable=true, so tied scores are visited (and kept) in
// index order. A box is suppressed when its IoU with a kept box is
// > iouThreshold; the IoU of two zero-area boxes is 0/0 = NaN, which
// suppresses nothing.
template <typename scalar_t>
static at::Tensor nmsImpl(const at::Tensor& dets, const at::Tensor& scores, double iouThreshold) {
  if (dets.numel() == 0) return at::empty({0}, dets.options().dtype(at::kLong));
  auto x1_t = dets.select(1, 0).contiguous();
  auto y1_t = dets.select(1, 1).contiguous();
  auto x2_t = dets.select(1, 2).contiguous();
  auto y2_t = dets.select(1, 3).contiguous();
  at::Tensor areas_t = (x2_t - x1_t) * (y2_t - y1_t);
  auto order_t = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  int64_t n = dets.size(0);
  at::Tensor suppressed_t = at::zeros({n}, dets.options().dtype(at::kByte));
  at::Tensor keep_t = at::zeros({n}, dets.options().dtype(at::kLong));
  auto suppressed = suppressed_t.data_ptr<uint8_t>();
  auto keep = keep_t.data_ptr<int64_t>();
  auto order = order_t.data_ptr<int64_t>();
  auto x1 = x1_t.data_ptr<scalar_t>(), y1 = y1_t.data_ptr<scalar_t>(), x2 = x2_t.data_ptr<scalar_t>(), y2 = y2_t.data_ptr<scalar_t>();
  auto areas = areas_t.data_ptr<scalar_t>();
  int64_t kept = 0;
  for (int64_t _i = 0; _i < n; _i++) {
    auto i = order[_i];
    if (suppressed[i] == 1) continue;
    keep[kept++] = i;
    auto ix1 = x1[i], iy1 = y1[i], ix2 = x2[i], iy2 = y2[i], iarea = areas[i];
    for (int64_t _j = _i + 1; _j < n; _j++) {
      auto j = order[_j];
      if (suppressed[j] == 1) continue;
      auto w = std::max(static_cast<scalar_t>(0), std::min(ix2, x2[j]) - std::max(ix1, x1[j]));
      auto h = std::max(static_cast<scalar_t>(0), std::min(iy2, y2[j]) - std::max(iy1, y1[j]));
      auto inter = w * h;
      auto ovr = inter / (iarea + areas[j] - inter);
      if (ovr > iouThreshold) suppressed[j] = 1;
    }
  }
  return keep_t.narrow(0, 0, kept);
}

static at::Tensor nmsCpu(const at::Tensor& dets, const at::Tensor& scores, double iouThreshold) {
  at::Tensor out;
  AT_DISPATCH_FLOATING_TYPES(dets.scalar_type(), "nms", [&] { out = nmsImpl<scalar_t>(dets, scores, iouThreshold); });
  return out;
}

// torchvision 0.14 batched_nms: above 4000 box coordinates (1000 boxes) NMS per
// class (_batched_nms_vanilla), else one NMS over boxes moved apart by class
// (_batched_nms_coordinate_trick: offset = idx × (max coordinate + 1)). Both
// paths are kept so the result equals torchvision's on either side of the
// threshold, ties and rounding included: the per-class path orders what it
// kept with libtorch's unstable sort, as torchvision's does (sort(descending=True)).
static at::Tensor batchedNmsCpu(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs, double iouThreshold) {
  if (boxes.numel() > 4000) {
    at::Tensor keepMask = at::zeros_like(scores, scores.options().dtype(at::kBool));
    at::Tensor classes = std::get<0>(at::_unique2(idxs, /*sorted=*/true, /*return_inverse=*/false, /*return_counts=*/false));
    auto cls = classes.to(at::kLong).contiguous();
    const int64_t* c = cls.data_ptr<int64_t>();
    for (int64_t k = 0; k < cls.numel(); ++k) {
      at::Tensor curr = at::nonzero(idxs.eq(c[k])).select(1, 0);
      at::Tensor keepC = nmsCpu(boxes.index_select(0, curr), scores.index_select(0, curr), iouThreshold);
      keepMask.index_fill_(0, curr.index_select(0, keepC), true);
    }
    at::Tensor keepIdx = at::nonzero(keepMask).select(1, 0);
    return keepIdx.index_select(0, std::get<1>(scores.index_select(0, keepIdx).sort(-1, /*descending=*/true)));
  }
  if (boxes.numel() == 0) return at::empty({0}, boxes.options().dtype(at::kLong));
  at::Tensor maxCoordinate = boxes.max();
  at::Tensor offsets = idxs.to(boxes.scalar_type()) * (maxCoordinate + at::scalar_tensor(1, at::kLong).to(boxes.scalar_type()));
  return nmsCpu(boxes + offsets.unsqueeze(1), scores, iouThreshold);
}

static Napi::Value nms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  at::Tensor boxes = tensorArg(info, 0, "nms: boxes"), scores = tensorArg(info, 1, "nms: scores");
  double thr = numberArg(info, 2, "nms: iouThreshold");
  checkBoxes(boxes, scores, "nms");
  at::NoGradGuard noGrad;
  return wrapTensor(info, nmsCpu(cpu(boxes), cpu(scores), thr).to(boxes.device()));
  ARSENAL_CATCH(env, "nms")
}

static Napi::Value batchedNms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  at::Tensor boxes = tensorArg(info, 0, "batchedNms: boxes"), scores = tensorArg(info, 1, "batchedNms: scores"), idxs = tensorArg(info, 2, "batchedNms: idxs");
  double thr = numberArg(info, 3, "batchedNms: iouThreshold");
  checkBoxes(boxes, scores, "batchedNms");
  TORCH_CHECK(idxs.dim() == 1 && idxs.size(0) == boxes.size(0), "batchedNms: idxs must be [", boxes.size(0), "], got ", idxs.sizes());
  TORCH_CHECK(!at::isFloatingType(idxs.scalar_type()) && idxs.scalar_type() != at::kBool, "batchedNms: idxs must be an integer tensor");
  at::NoGradGuard noGrad;
  return wrapTensor(info, batchedNmsCpu(cpu(boxes), cpu(scores), cpu(idxs), thr).to(boxes.device()));
  ARSENAL_CATCH(env, "batchedNms")
}

// ---- Soft-NMS: mmcv's softnms_cpu (offset 0), step for step ------------------------------------------
// Each step moves the highest remaining score (the first on ties) to the front,
// then decays every later box by its IoU with it: linear (method 1) multiplies
// by 1 − IoU where IoU ≥ iouThreshold, gaussian (method 2) by exp(−IoU²/σ)
// everywhere; a box decayed below minScore is dropped by swapping the last box
// into its place. Returns the kept indices in selection order and their scores.
template <typename scalar_t>
static std::pair<at::Tensor, at::Tensor> softNmsImpl(const at::Tensor& boxes, const at::Tensor& scores, double iouThreshold, double sigma,
                                                     double minScore, int method) {
  int64_t n = boxes.size(0);
  at::Tensor x1_t = boxes.select(1, 0).contiguous().clone(), y1_t = boxes.select(1, 1).contiguous().clone();
  at::Tensor x2_t = boxes.select(1, 2).contiguous().clone(), y2_t = boxes.select(1, 3).contiguous().clone();
  at::Tensor sc_t = scores.contiguous().clone();
  at::Tensor areas_t = ((x2_t - x1_t) * (y2_t - y1_t)).contiguous();
  at::Tensor inds_t = at::arange(n, boxes.options().dtype(at::kLong));
  at::Tensor out_t = at::empty({n}, scores.options());
  auto x1 = x1_t.data_ptr<scalar_t>(), y1 = y1_t.data_ptr<scalar_t>(), x2 = x2_t.data_ptr<scalar_t>(), y2 = y2_t.data_ptr<scalar_t>();
  auto sc = sc_t.data_ptr<scalar_t>(), areas = areas_t.data_ptr<scalar_t>(), out = out_t.data_ptr<scalar_t>();
  auto inds = inds_t.data_ptr<int64_t>();
  const scalar_t thr = static_cast<scalar_t>(iouThreshold), sig = static_cast<scalar_t>(sigma), lo = static_cast<scalar_t>(minScore);
  auto move = [&](int64_t to, int64_t from) {
    x1[to] = x1[from]; y1[to] = y1[from]; x2[to] = x2[from]; y2[to] = y2[from];
    sc[to] = sc[from]; areas[to] = areas[from]; inds[to] = inds[from];
  };
  for (int64_t i = 0; i < n; i++) {
    int64_t maxPos = i;
    for (int64_t pos = i + 1; pos < n; pos++)
      if (sc[maxPos] < sc[pos]) maxPos = pos;
    scalar_t ix1 = x1[maxPos], iy1 = y1[maxPos], ix2 = x2[maxPos], iy2 = y2[maxPos], iscore = sc[maxPos], iarea = areas[maxPos];
    int64_t iind = inds[maxPos];
    move(maxPos, i);
    x1[i] = ix1; y1[i] = iy1; x2[i] = ix2; y2[i] = iy2; sc[i] = iscore; areas[i] = iarea; inds[i] = iind;
    out[i] = iscore;
    for (int64_t pos = i + 1; pos < n; pos++) {
      scalar_t w = std::max(static_cast<scalar_t>(0), std::min(ix2, x2[pos]) - std::max(ix1, x1[pos]));
      scalar_t h = std::max(static_cast<scalar_t>(0), std::min(iy2, y2[pos]) - std::max(iy1, y1[pos]));
      scalar_t inter = w * h;
      scalar_t ovr = inter / (iarea + areas[pos] - inter);
      scalar_t weight = 1;
      if (method == 1) {
        if (ovr >= thr) weight = 1 - ovr;
      } else {
        weight = std::exp(-(ovr * ovr) / sig);
      }
      sc[pos] *= weight;
      if (sc[pos] < lo) {
        move(pos, n - 1);
        n--;
        pos--;
      }
    }
  }
  return {inds_t.narrow(0, 0, n).clone(), out_t.narrow(0, 0, n).clone()};
}

static Napi::Value softNms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  at::Tensor boxes = tensorArg(info, 0, "softNms: boxes"), scores = tensorArg(info, 1, "softNms: scores");
  double thr = numberArg(info, 2, "softNms: iouThreshold"), sigma = numberArg(info, 3, "softNms: sigma");
  double minScore = numberArg(info, 4, "softNms: minScore");
  int method = static_cast<int>(numberArg(info, 5, "softNms: method"));
  checkBoxes(boxes, scores, "softNms");
  TORCH_CHECK(method == 1 || method == 2, "softNms: method must be 1 (linear) or 2 (gaussian)");
  at::NoGradGuard noGrad;
  std::pair<at::Tensor, at::Tensor> r;
  at::Tensor b = cpu(boxes), s = cpu(scores);
  AT_DISPATCH_FLOATING_TYPES(b.scalar_type(), "softNms", [&] { r = softNmsImpl<scalar_t>(b, s, thr, sigma, minScore, method); });
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(uint32_t(0), wrapTensor(info, r.first.to(boxes.device())));
  out.Set(uint32_t(1), wrapTensor(info, r.second.to(boxes.device())));
  return out;
  ARSENAL_CATCH(env, "softNms")
}

// ---- Weighted boxes fusion: ZFTurbo's ensemble_boxes_wbf.py ------------------------------------------
// The references to its code are by function name.
enum ConfType { kAvg = 0, kMax = 1, kBoxAndModelAvg = 2, kAbsentModelAwareAvg = 3 };

struct WbfBox {
  int64_t label;
  double score;   // score × the model's weight (prefilter_boxes)
  double weight;  // the model's weight; a fused box: the sum over its members
  int64_t model;
  double c[4];
};

static double iou(const double* a, const double* b) {
  // find_matching_box_quickly's bb_iou_array, in float64 as there.
  double w = std::max(std::min(a[2], b[2]) - std::max(a[0], b[0]), 0.0);
  double h = std::max(std::min(a[3], b[3]) - std::max(a[1], b[1]), 0.0);
  double inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

// Orders by score, highest first, as numpy's argsort()[::-1]: ties come out
// with the later entry first (the reversal of an ascending stable sort, which
// is what numpy's insertion sort gives on short lists; numpy promises no tie
// order on long ones).
template <typename T, typename Score>
static void sortDescending(std::vector<T>& v, Score score) {
  std::stable_sort(v.begin(), v.end(), [&](const T& a, const T& b) { return score(a) < score(b); });
  std::reverse(v.begin(), v.end());
}

static Napi::Value weightedBoxesFusion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  at::Tensor boxesIn = tensorArg(info, 0, "weightedBoxesFusion: boxes"), scoresIn = tensorArg(info, 1, "weightedBoxesFusion: scores");
  at::Tensor labelsIn = tensorArg(info, 2, "weightedBoxesFusion: labels"), modelsIn = tensorArg(info, 3, "weightedBoxesFusion: models");
  if (!info[4].IsArray()) throw Napi::TypeError::New(env, "weightedBoxesFusion: weights must be an array of numbers");
  Napi::Array wa = info[4].As<Napi::Array>();
  std::vector<double> weights(wa.Length());
  for (uint32_t i = 0; i < wa.Length(); ++i) {
    Napi::Value v = wa.Get(i);
    if (!v.IsNumber()) throw Napi::TypeError::New(env, "weightedBoxesFusion: weights must be numbers");
    weights[i] = v.As<Napi::Number>().DoubleValue();
  }
  double iouThr = numberArg(info, 5, "weightedBoxesFusion: iouThr"), skipThr = numberArg(info, 6, "weightedBoxesFusion: skipBoxThr");
  int confType = static_cast<int>(numberArg(info, 7, "weightedBoxesFusion: confType"));
  bool allowsOverflow = info[8].ToBoolean().Value();
  double boundX = numberArg(info, 9, "weightedBoxesFusion: width"), boundY = numberArg(info, 10, "weightedBoxesFusion: height");
  checkBoxes(boxesIn, scoresIn, "weightedBoxesFusion");
  int64_t n = boxesIn.size(0);
  TORCH_CHECK(labelsIn.dim() == 1 && labelsIn.size(0) == n && modelsIn.dim() == 1 && modelsIn.size(0) == n, "weightedBoxesFusion: labels and models must be [", n, "]");
  TORCH_CHECK(confType >= 0 && confType <= 3, "weightedBoxesFusion: unknown confType ", confType);
  TORCH_CHECK(!weights.empty(), "weightedBoxesFusion: no models");
  at::NoGradGuard noGrad;
  at::Tensor bx = boxesIn.detach().to(at::kCPU, at::kDouble).contiguous(), sx = scoresIn.detach().to(at::kCPU, at::kDouble).contiguous();
  at::Tensor lx = labelsIn.detach().to(at::kCPU, at::kLong).contiguous(), mx = modelsIn.detach().to(at::kCPU, at::kLong).contiguous();
  const double *bp = bx.data_ptr<double>(), *sp = sx.data_ptr<double>();
  const int64_t *lp = lx.data_ptr<int64_t>(), *mp = mx.data_ptr<int64_t>();
  const int64_t nModels = static_cast<int64_t>(weights.size());

  // prefilter_boxes: drop scores below skipBoxThr, order each box's corners,
  // clip to the image ([0, 1] when normalised), drop zero-area boxes, and
  // group by label in the order labels first appear.
  std::vector<int64_t> labelOrder;
  std::unordered_map<int64_t, std::vector<WbfBox>> byLabel;
  for (int64_t j = 0; j < n; ++j) {
    if (sp[j] < skipThr) continue;
    int64_t t = mp[j];
    TORCH_CHECK(t >= 0 && t < nModels, "weightedBoxesFusion: model index ", t, " out of range");
    double x1 = bp[4 * j], y1 = bp[4 * j + 1], x2 = bp[4 * j + 2], y2 = bp[4 * j + 3];
    if (x2 < x1) std::swap(x1, x2);
    if (y2 < y1) std::swap(y1, y2);
    x1 = std::min(std::max(x1, 0.0), boundX);
    x2 = std::min(std::max(x2, 0.0), boundX);
    y1 = std::min(std::max(y1, 0.0), boundY);
    y2 = std::min(std::max(y2, 0.0), boundY);
    if ((x2 - x1) * (y2 - y1) == 0.0) continue;
    auto it = byLabel.find(lp[j]);
    if (it == byLabel.end()) {
      labelOrder.push_back(lp[j]);
      it = byLabel.emplace(lp[j], std::vector<WbfBox>()).first;
    }
    it->second.push_back(WbfBox{lp[j], sp[j] * weights[t], weights[t], t, {x1, y1, x2, y2}});
  }

  const double sumW = std::accumulate(weights.begin(), weights.end(), 0.0);
  const double maxW = *std::max_element(weights.begin(), weights.end());
  std::vector<WbfBox> overall;
  for (int64_t label : labelOrder) {
    std::vector<WbfBox>& boxes = byLabel[label];
    sortDescending(boxes, [](const WbfBox& b) { return b.score; });
    std::vector<std::vector<const WbfBox*>> clusters;
    std::vector<WbfBox> fused;
    for (const WbfBox& b : boxes) {
      // find_matching_box_quickly: the fused box of highest IoU (the first on
      // ties), a match only when that IoU is > iouThr.
      int64_t best = -1;
      double bestIou = -std::numeric_limits<double>::infinity();
      for (size_t k = 0; k < fused.size(); ++k) {
        double v = iou(fused[k].c, b.c);
        if (v > bestIou || (std::isnan(v) && !std::isnan(bestIou))) { bestIou = v; best = static_cast<int64_t>(k); }
      }
      if (best >= 0 && bestIou <= iouThr) best = -1;
      if (best < 0) {
        clusters.push_back({&b});
        fused.push_back(b);
        continue;
      }
      // get_weighted_box: coordinates averaged with the scores as weights. It
      // keeps the fused box in a float32 array, so each sum and the result are
      // rounded to float32 here too (a box alone in its cluster stays float64).
      auto& members = clusters[best];
      members.push_back(&b);
      float acc[4] = {0, 0, 0, 0};
      double conf = 0, w = 0, maxConf = -std::numeric_limits<double>::infinity();
      for (const WbfBox* m : members) {
        for (int k = 0; k < 4; ++k) acc[k] = static_cast<float>(static_cast<double>(acc[k]) + m->score * m->c[k]);
        conf += m->score;
        maxConf = std::max(maxConf, m->score);
        w += m->weight;
      }
      WbfBox& f = fused[best];
      f.score = static_cast<float>(confType == kMax ? maxConf : conf / static_cast<double>(members.size()));
      f.weight = static_cast<float>(w);
      for (int k = 0; k < 4; ++k) f.c[k] = static_cast<float>(static_cast<double>(acc[k]) / conf);
    }
    // Rescale confidence by the number of models and boxes (weighted_boxes_fusion).
    for (size_t k = 0; k < fused.size(); ++k) {
      const auto& members = clusters[k];
      double cnt = static_cast<double>(members.size());
      WbfBox& f = fused[k];
      if (confType == kBoxAndModelAvg || confType == kAbsentModelAwareAvg) {
        std::vector<bool> present(nModels, false);
        double presentW = 0;
        for (const WbfBox* m : members)
          if (!present[m->model]) { present[m->model] = true; presentW += m->weight; }
        if (confType == kBoxAndModelAvg) {
          f.score = f.score * cnt / f.weight;
          f.score = f.score * presentW / sumW;
        } else {
          double absentW = 0;
          for (int64_t t = 0; t < nModels; ++t)
            if (!present[t]) absentW += weights[t];
          f.score = f.score * cnt / (f.weight + absentW);
        }
      } else if (confType == kMax) {
        f.score = f.score / maxW;
      } else if (!allowsOverflow) {
        f.score = f.score * std::min(static_cast<double>(nModels), cnt) / sumW;
      } else {
        f.score = f.score * cnt / sumW;
      }
      overall.push_back(f);
    }
  }
  sortDescending(overall, [](const WbfBox& b) { return b.score; });

  int64_t k = static_cast<int64_t>(overall.size());
  at::Tensor ob = at::empty({k, 4}, at::kDouble), os = at::empty({k}, at::kDouble), ol = at::empty({k}, at::kLong);
  double *obp = ob.data_ptr<double>(), *osp = os.data_ptr<double>();
  int64_t* olp = ol.data_ptr<int64_t>();
  for (int64_t i = 0; i < k; ++i) {
    for (int c = 0; c < 4; ++c) obp[4 * i + c] = overall[i].c[c];
    osp[i] = overall[i].score;
    olp[i] = overall[i].label;
  }
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(uint32_t(0), wrapTensor(info, ob.to(boxesIn.device(), boxesIn.scalar_type())));
  out.Set(uint32_t(1), wrapTensor(info, os.to(scoresIn.device(), scoresIn.scalar_type())));
  out.Set(uint32_t(2), wrapTensor(info, ol.to(labelsIn.device())));
  return out;
  ARSENAL_CATCH(env, "weightedBoxesFusion")
}

void registerDetection(Napi::Env env, Napi::Object exports, State* s) {
  auto add = [&](const char* name, Napi::Function::Callback fn) { exports.Set(name, Napi::Function::New(env, fn, name, s)); };
  add("nms", nms);
  add("batchedNms", batchedNms);
  add("softNms", softNms);
  add("weightedBoxesFusion", weightedBoxesFusion);
}

}  // namespace arsenal
