// Shared declarations of the addon: the per-environment tensor table, the
// operator cache and the helpers that turn C++ exceptions into JS errors.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <cstdint>
#include <string>
#include <vector>

namespace arsenal {

// A tensor handle is a JS number: generation * 2^24 + slot. A slot is reused
// only with a new generation, so a stale handle (disposed, finalized, or from
// before a reuse) is detected and never aliases another tensor.
constexpr uint64_t kSlotBits = 24;
constexpr uint64_t kSlotMask = (uint64_t(1) << kSlotBits) - 1;
constexpr uint64_t kMaxGeneration = (uint64_t(1) << 29) - 1;

struct Slot {
  at::Tensor tensor;
  uint32_t generation = 0;
  bool live = false;
  int64_t reported = 0;  // bytes reported to V8 for this slot
};

class TensorTable {
 public:
  double insert(napi_env env, at::Tensor t);
  // Returns nullptr when the handle is not a live tensor.
  at::Tensor* find(double handle);
  // False when the handle was already freed (double free is a no-op).
  bool erase(napi_env env, double handle);
  size_t live() const { return live_; }
  const std::vector<Slot>& slots() const { return slots_; }
  void flushExternal(napi_env env);

 private:
  void account(napi_env env, int64_t delta);
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
  int64_t pending_ = 0;  // bytes not yet reported to V8 (batched)
};

enum class Kind : uint8_t {
  Tensor, TensorList, OptTensorList, Int, IntList, Float, FloatList, Bool, BoolList, ScalarList,
  Str, Scalar, Device, Generator, Any, Unsupported
};

struct ArgSpec {
  std::string name;
  Kind kind;
  bool optional;            // accepts null / undefined -> None
  int fixedLen;             // int[2]: a single int broadcasts to this length
  int enumLimit = 0;        // ScalarType / Layout / MemoryFormat: valid codes are [0, enumLimit)
  bool hasDefault;
  c10::IValue defaultValue;
  std::string typeStr;
};

struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;  // "aten::add.Tensor"
  std::vector<ArgSpec> args;
  size_t nreturns;
};

struct State {
  TensorTable table;
  std::vector<OpEntry> ops;
  std::unordered_map<std::string, uint32_t> opIndex;
  std::vector<c10::IValue> stack;
  int depth = 0;  // > 0 while an operator call is converting arguments (JS getters may re-enter)
};

State* state(const Napi::CallbackInfo& info);

// Throws a JS Error for the current C++ exception (call inside catch(...)).
[[noreturn]] void rethrowAsJs(napi_env env, const std::string& context);

// Wrap a body so every C++ exception becomes a JS Error with a readable first line.
#define ARSENAL_TRY try {
#define ARSENAL_CATCH(env, ctx)                        \
  }                                                    \
  catch (const Napi::Error&) { throw; }                \
  catch (...) { ::arsenal::rethrowAsJs(env, ctx); }

at::Tensor& tensorArg(const Napi::CallbackInfo& info, size_t i, const char* what);
c10::ScalarType scalarTypeArg(const Napi::Value& v, const char* what);
Napi::Value wrapTensor(const Napi::CallbackInfo& info, at::Tensor t);

void registerOps(Napi::Env env, Napi::Object exports, State* s);
void registerTensorIO(Napi::Env env, Napi::Object exports, State* s);
void registerAutograd(Napi::Env env, Napi::Object exports, State* s);
void registerRuntime(Napi::Env env, Napi::Object exports, State* s);

}  // namespace arsenal
