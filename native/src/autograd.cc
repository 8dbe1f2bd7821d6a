// Autograd entry points that are not dispatcher operators: backward, .grad,
// requires_grad, torch.autograd.grad and the grad mode.
#include "state.h"
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>
#include <c10/core/GradMode.h>

namespace arsenal {

static std::vector<at::Tensor> tensorList(const Napi::CallbackInfo& info, size_t i, const char* what, bool allowNull) {
  std::vector<at::Tensor> out;
  if (info[i].IsUndefined() || info[i].IsNull()) return out;
  if (!info[i].IsArray()) throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected an array of tensors");
  Napi::Array a = info[i].As<Napi::Array>();
  State* s = state(info);
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value v = a.Get(k);
    if (allowNull && (v.IsNull() || v.IsUndefined())) { out.emplace_back(); continue; }
    at::Tensor* t = v.IsNumber() ? s->table.find(v.As<Napi::Number>().DoubleValue()) : nullptr;
    if (!t) throw Napi::TypeError::New(info.Env(), std::string(what) + ": element " + std::to_string(k) + " is not a live tensor");
    out.push_back(*t);
  }
  return out;
}

static bool boolArg(const Napi::CallbackInfo& info, size_t i, bool dflt) {
  if (info[i].IsUndefined() || info[i].IsNull()) return dflt;
  if (!info[i].IsBoolean()) throw Napi::TypeError::New(info.Env(), "expected a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

// backward(outputs, gradOutputs|null, retainGraph, createGraph)
static Napi::Value backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  auto outs = tensorList(info, 0, "backward", false);
  auto grads = tensorList(info, 1, "backward gradient", true);
  if (!grads.empty() && grads.size() != outs.size())
    throw Napi::Error::New(env, "backward: one gradient per output expected");
  bool create = boolArg(info, 3, false);
  c10::optional<bool> retain;
  if (!info[2].IsUndefined() && !info[2].IsNull()) retain = boolArg(info, 2, false);
  torch::autograd::backward(outs, grads, retain, create);
  return env.Undefined();
  ARSENAL_CATCH(env, "backward")
}

// grad(outputs, inputs, gradOutputs|null, retainGraph, createGraph, allowUnused)
static Napi::Value grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  auto outs = tensorList(info, 0, "autograd.grad outputs", false);
  auto ins = tensorList(info, 1, "autograd.grad inputs", false);
  auto grads = tensorList(info, 2, "autograd.grad gradOutputs", true);
  c10::optional<bool> retain;
  if (!info[3].IsUndefined() && !info[3].IsNull()) retain = boolArg(info, 3, false);
  bool create = boolArg(info, 4, false);
  bool allowUnused = boolArg(info, 5, false);
  auto res = torch::autograd::grad(outs, ins, grads, retain, create, allowUnused);
  Napi::Array a = Napi::Array::New(env, res.size());
  for (size_t i = 0; i < res.size(); ++i) a.Set(i, wrapTensor(info, res[i]));
  return a;
  ARSENAL_CATCH(env, "autograd.grad")
}

static Napi::Value getGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  return wrapTensor(info, tensorArg(info, 0, "grad").grad());
  ARSENAL_CATCH(env, "grad")
}

static Napi::Value setGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  at::Tensor& t = tensorArg(info, 0, "grad");
  if (info[1].IsNull() || info[1].IsUndefined()) t.mutable_grad() = at::Tensor();
  else t.mutable_grad() = tensorArg(info, 1, "grad");
  return env.Undefined();
  ARSENAL_CATCH(env, "grad")
}

static Napi::Value requiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tensorArg(info, 0, "requiresGrad").requires_grad());
}

static Napi::Value setRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  tensorArg(info, 0, "requiresGrad_").set_requires_grad(boolArg(info, 1, true));
  return env.Undefined();
  ARSENAL_CATCH(env, "requiresGrad_")
}

static Napi::Value retainGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  tensorArg(info, 0, "retainGrad").retain_grad();
  return env.Undefined();
  ARSENAL_CATCH(env, "retainGrad")
}

static Napi::Value isLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tensorArg(info, 0, "isLeaf").is_leaf());
}

static Napi::Value gradFn(const Napi::CallbackInfo& info) {
  const at::Tensor& t = tensorArg(info, 0, "gradFn");
  auto fn = t.grad_fn();
  if (!fn) return info.Env().Null();
  return Napi::String::New(info.Env(), fn->name());
}

static Napi::Value isGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// setGradEnabled(b) returns the previous mode, so callers restore it in `finally`.
static Napi::Value setGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(boolArg(info, 0, true));
  return Napi::Boolean::New(info.Env(), prev);
}

void registerAutograd(Napi::Env env, Napi::Object exports, State* s) {
  auto add = [&](const char* name, Napi::Function::Callback fn) { exports.Set(name, Napi::Function::New(env, fn, name, s)); };
  add("backward", backward);
  add("autogradGrad", grad);
  add("getGrad", getGrad);
  add("setGrad", setGrad);
  add("requiresGrad", requiresGrad);
  add("setRequiresGrad", setRequiresGrad);
  add("retainGrad", retainGrad);
  add("isLeaf", isLeaf);
  add("gradFn", gradFn);
  add("isGradEnabled", isGradEnabled);
  add("setGradEnabled", setGradEnabled);
}

}  // namespace arsenal
