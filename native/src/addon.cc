// Module entry: one State (tensor table, operator cache) per JS environment,
// so the addon is context-aware and loads in worker threads.
#include "state.h"
#include <c10/util/Exception.h>
#include <malloc.h>
#include <cstdlib>

namespace arsenal {

State* state(const Napi::CallbackInfo& info) { return static_cast<State*>(info.Data()); }

static std::string firstLines(std::string msg) {
  // c10 messages can carry a C++ backtrace after the message; keep the message.
  auto pos = msg.find("\nException raised from");
  if (pos != std::string::npos) msg = msg.substr(0, pos);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

void rethrowAsJs(napi_env env, const std::string& context) {
  std::string msg;
  try {
    throw;
  } catch (const c10::Error& e) {
    msg = firstLines(e.what_without_backtrace());
  } catch (const std::exception& e) {
    msg = firstLines(e.what());
  } catch (...) {
    msg = "unknown C++ exception";
  }
  if (!context.empty()) msg = context + ": " + msg;
  throw Napi::Error::New(env, msg);
}

at::Tensor& tensorArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected a tensor handle");
  at::Tensor* t = state(info)->table.find(v.As<Napi::Number>().DoubleValue());
  if (!t) throw Napi::Error::New(info.Env(), std::string(what) + ": the tensor was disposed (or is not a tensor)");
  return *t;
}

Napi::Value wrapTensor(const Napi::CallbackInfo& info, at::Tensor t) {
  if (!t.defined()) return info.Env().Null();
  return Napi::Number::New(info.Env(), state(info)->table.insert(info.Env(), std::move(t)));
}

c10::ScalarType scalarTypeArg(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a dtype code");
  int code = v.As<Napi::Number>().Int32Value();
  if (code < 0 || code >= static_cast<int>(c10::ScalarType::NumOptions))
    throw Napi::RangeError::New(v.Env(), std::string(what) + ": unknown dtype code " + std::to_string(code));
  return static_cast<c10::ScalarType>(code);
}

// Keep freed tensor memory in the process instead of returning it to the
// kernel after every step: glibc's defaults unmap blocks above its mmap
// threshold and trim the heap, so each training step page-faults its
// activations back in (~15% of a small CNN's step, measured in bench/).
// glibc caps the mmap threshold at 32 MB, so blocks above it (a 128 × 3×224×224
// float batch is 77 MB) would still be mapped and faulted in afresh each time:
// M_MMAP_MAX 0 serves them from the heap too (glibc still maps when the heap
// cannot grow). ARSENAL_MALLOC_DEFAULTS=1 keeps glibc's defaults.
static void tuneMalloc() {
  static bool done = false;
  if (done) return;
  done = true;
  const char* keep = std::getenv("ARSENAL_MALLOC_DEFAULTS");
  if (keep && keep[0] == '1') return;
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_MMAP_MAX, 0);
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tuneMalloc();
  State* s = new State();
  env.AddCleanupHook([s]() { delete s; });
  registerOps(env, exports, s);
  registerTensorIO(env, exports, s);
  registerAutograd(env, exports, s);
  registerRuntime(env, exports, s);
  registerMemory(env, exports, s);
  registerDetection(env, exports, s);
  registerDistributed(env, exports, s);
  registerDistributed(env, exports, s);
  return exports;
}

}  // namespace arsenal

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return arsenal::Init(env, exports); }
NODE_API_MODULE(arsenal_native, InitModule)
