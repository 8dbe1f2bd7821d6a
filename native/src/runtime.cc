// Process-wide runtime: RNG, threads, autocast, determinism and build info.
#include "state.h"
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Version.h>
#include <torch/version.h>
#include <cmath>

namespace arsenal {

// manualSeed(seed): a non-negative integer number below 2^53, or a BigInt (any 64-bit seed).
static Napi::Value manualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info[0].IsBigInt()) {
    bool lossless = false;
    uint64_t v = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env, "manualSeed: a BigInt seed must fit in 64 unsigned bits");
    at::manual_seed(v);
    return env.Undefined();
  }
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "manualSeed: expected a non-negative integer seed (number or BigInt)");
  double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || d != std::floor(d))
    throw Napi::RangeError::New(env, "manualSeed: expected a non-negative integer seed below 2^53 (or a BigInt), got " + Napi::Number::New(env, d).ToString().Utf8Value());
  at::manual_seed(static_cast<uint64_t>(d));
  return env.Undefined();
}

// initialSeed(): a number when exact, else a BigInt (libtorch's default seed is a random 64-bit value).
static Napi::Value initialSeed(const Napi::CallbackInfo& info) {
  uint64_t s = at::detail::getDefaultCPUGenerator().current_seed();
  if (s <= 9007199254740991ULL) return Napi::Number::New(info.Env(), static_cast<double>(s));
  return Napi::BigInt::New(info.Env(), s);
}

static Napi::Value getRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return wrapTensor(info, gen.get_state());
  ARSENAL_CATCH(env, "getRngState")
}

static Napi::Value setRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  at::Tensor t = tensorArg(info, 0, "setRngState");
  if (t.scalar_type() != at::kByte) throw Napi::TypeError::New(env, "setRngState: expected a uint8 tensor from getRngState");
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(t);
  return env.Undefined();
  ARSENAL_CATCH(env, "setRngState")
}

static Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double d = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  if (!(d >= 1) || d != std::floor(d) || d > 4096) throw Napi::TypeError::New(env, "setNumThreads: expected a positive integer");
  ARSENAL_TRY
  at::set_num_threads(static_cast<int>(d));
  return env.Undefined();
  ARSENAL_CATCH(env, "setNumThreads")
}

static Napi::Value getNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

static Napi::Value setDeterministic(const Napi::CallbackInfo& info) {
  at::globalContext().setDeterministicAlgorithms(info[0].ToBoolean().Value(), /*warn_only=*/false);
  return info.Env().Undefined();
}

// Autocast over libtorch's own (AutocastCPU dispatch key): enter pushes the
// previous state, exit restores it.
struct AutocastFrame { bool enabled; at::ScalarType dtype; };
static thread_local std::vector<AutocastFrame> autocastStack;

static Napi::Value autocastEnter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  c10::ScalarType dt = scalarTypeArg(info[0], "autocast");
  if (dt != at::kBFloat16 && dt != at::kHalf)
    throw Napi::TypeError::New(env, "autocast: dtype must be bfloat16 or float16");
  bool enabled = info[1].IsUndefined() ? true : info[1].ToBoolean().Value();
  AutocastFrame prev{at::autocast::is_cpu_enabled(), at::autocast::get_autocast_cpu_dtype()};
  ARSENAL_TRY
  // Set the dtype first: libtorch refuses some (float16 on CPU before 2.x), and
  // nothing may change when it does.
  at::autocast::set_autocast_cpu_dtype(dt);
  ARSENAL_CATCH(env, "autocast")
  autocastStack.push_back(prev);
  at::autocast::set_cpu_enabled(enabled);
  at::autocast::increment_nesting();
  return env.Undefined();
}

static Napi::Value autocastExit(const Napi::CallbackInfo& info) {
  if (autocastStack.empty()) return info.Env().Undefined();
  AutocastFrame f = autocastStack.back();
  autocastStack.pop_back();
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_cpu_enabled(f.enabled);
  at::autocast::set_autocast_cpu_dtype(f.dtype);
  return info.Env().Undefined();
}

static Napi::Value isAutocastEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::autocast::is_cpu_enabled());
}

static Napi::Value info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", TORCH_VERSION);
  o.Set("config", at::show_config());
  o.Set("parallel", at::get_parallel_info());
  o.Set("mkldnn", at::hasMKLDNN());
  o.Set("cuda", at::hasCUDA());
  o.Set("threads", at::get_num_threads());
  o.Set("interopThreads", at::get_num_interop_threads());
  return o;
}

static Napi::Value flushExternal(const Napi::CallbackInfo& info) {
  state(info)->table.flushExternal(info.Env());
  return info.Env().Undefined();
}

void registerRuntime(Napi::Env env, Napi::Object exports, State* s) {
  auto add = [&](const char* name, Napi::Function::Callback fn) { exports.Set(name, Napi::Function::New(env, fn, name, s)); };
  add("manualSeed", manualSeed);
  add("initialSeed", initialSeed);
  add("getRngState", getRngState);
  add("setRngState", setRngState);
  add("setNumThreads", setNumThreads);
  add("getNumThreads", getNumThreads);
  add("setDeterministic", setDeterministic);
  add("autocastEnter", autocastEnter);
  add("autocastExit", autocastExit);
  add("isAutocastEnabled", isAutocastEnabled);
  add("info", info);
  add("flushExternal", flushExternal);
}

}  // namespace arsenal
