// Shared declarations of the addon: the per-environment tensor table, the
// operator cache and the helpers that turn C++ exceptions into JS errors.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace arsenal {

// A tensor handle is a JS number: generation * 2^24 + slot. A slot is reused
// only with a new generation, so a stale handle (disposed, finalized, or from
// before a reuse) is detected and never aliases another tensor.
constexpr uint64_t kSlotBits = 24;
constexpr uint64_t kSlotMask = (uint64_t(1) << kSlotBits) - 1;
constexpr uint64_t kMaxGeneration = (uint64_t(1) << 29) - 1;

// memory.cc: the fixed native cost charged per live tensor beyond its storage.
extern int64_t gTensorOverhead;
inline int64_t tensorOverhead() { return gTensorOverhead; }

struct Slot {
  at::Tensor tensor;
  // The storage this slot was charged against (a key into TensorTable's
  // storage map, never dereferenced): recorded at insert so the uncharge at
  // erase balances even if set_() later points the tensor elsewhere.
  const void* storage = nullptr;
  uint32_t generation = 0;
  bool live = false;
  bool kept = false;  // torch.keep(): owned by a module, an optimizer or the user (memory.cc)
};

// Storage -> (live slots sharing it, bytes charged): open addressing with
// linear probing and backward-shift deletion, so an op's insert and erase
// allocate nothing (std::unordered_map's node malloc/free cost ~0.05 µs per op).
class StorageCharges {
 public:
  struct Entry {
    const void* key = nullptr;  // nullptr: empty
    uint32_t refs = 0;
    int64_t bytes = 0;
  };
  // The entry for key, created empty (refs 0) when absent.
  Entry& get(const void* key);
  Entry* find(const void* key);
  void erase(Entry* e);

 private:
  size_t slot(const void* key) const { return (reinterpret_cast<uintptr_t>(key) >> 4) * 0x9E3779B97F4A7C15ull >> shift_; }
  void grow();
  std::vector<Entry> table_ = std::vector<Entry>(64);
  size_t size_ = 0;
  int shift_ = 64 - 6;
};

// What erase() found: not a live handle, a freed tensor, or a freed kept one.
enum class Erased : int { None = 0, Freed = 1, FreedKept = 2 };

class TensorTable {
 public:
  double insert(napi_env env, at::Tensor t);
  // Returns nullptr when the handle is not a live tensor.
  at::Tensor* find(double handle);
  // Erased::None when the handle was already freed (double free is a no-op).
  Erased erase(napi_env env, double handle);
  bool markKept(double handle);
  size_t live() const { return live_; }
  const std::vector<Slot>& slots() const { return slots_; }
  void flushExternal(napi_env env);
  // Bytes of the distinct storages the table holds, and their peak.
  int64_t bytes() const { return bytes_; }
  int64_t peakBytes() const { return peak_; }
  void resetPeak() { peak_ = bytes_; }
  // What V8 is told: storage bytes plus kTensorOverhead per live tensor.
  int64_t footprint() const { return bytes_ + static_cast<int64_t>(live_) * tensorOverhead(); }
  // Auto-trim state (memory.cc): the footprint's high-water mark since the
  // last malloc_trim, and since when it has stayed far below it (0: it has not).
  int64_t trimMark = 0;
  int64_t lowSinceMs = 0;
  uint32_t lowErases = 0;

 private:
  void account(napi_env env, int64_t delta);
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  StorageCharges storages_;  // refs: live slots sharing the storage (a view and its base count once); bytes: nbytes when first charged
  size_t live_ = 0;
  int64_t bytes_ = 0;
  int64_t peak_ = 0;
  int64_t pending_ = 0;  // bytes not yet reported to V8 (batched)
};

// memory.cc: trims. The footprint is "low" when it is kAutoTrimDrop below its
// mark and under half of it; maybeAutoTrim trims once it has stayed low for a while.
constexpr int64_t kAutoTrimDrop = int64_t(256) << 20;
inline bool lowFootprint(int64_t now, int64_t mark) { return mark - now >= kAutoTrimDrop && now < mark / 2; }
void maybeAutoTrim(TensorTable& table);
// malloc_trim(0) now; returns whether glibc released anything.
bool trimNow(TensorTable& table);

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
void registerMemory(Napi::Env env, Napi::Object exports, State* s);
void registerDetection(Napi::Env env, Napi::Object exports, State* s);
void registerDistributed(Napi::Env env, Napi::Object exports, State* s);
void registerDistributed(Napi::Env env, Napi::Object exports, State* s);

}  // namespace arsenal
