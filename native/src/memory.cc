// Native memory: what each live tensor costs (reported to V8 by table.cc),
// torch.memory(), the kept mark that tells owned tensors from unowned ones,
// and giving freed heap back to the OS (malloc_trim) at the right moments.
#include "state.h"
#include <chrono>
#include <cstdlib>
#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace arsenal {

// The fixed native cost of one live tensor beyond its storage bytes, charged
// to V8 so that dropped tensors create GC pressure: V8 collects for external
// memory only past ~64 MB of reported growth, and with the 4 bytes of a
// scalar result it never saw the leak. Measured here (glibc 2.36, libtorch
// 1.13; `node dist/bench/memory.js --footprint`) as RSS growth per live tensor:
//   - a lone scalar result: ~480 B (TensorImpl with its sizes/strides, the
//     StorageImpl, the 64-byte-aligned data block, malloc headers, the table
//     slot and the storage map entry);
//   - the same scalar made by a 64×64 add → mul → sum chain whose two 16 KB
//     intermediates are freed each step: 0.5 to 11 KB, varying run to run.
//     Each small survivor splits a freed 16 KB block, and glibc's memalign
//     (64-byte alignment) then needs a slightly bigger chunk than what is left,
//     so the next step takes fresh heap: a survivor can pin up to one freed
//     temporary until it is collected.
// 8 KB covers the common case of that pinning: a loop that drops its results
// gets a GC every ~8,000 of them (64 MB / 8 KB), so the pinned heap stays
// under ~150 MB even at 16 KB a survivor (measured: 22–59 MB peak), while a
// program holding 100k small tensors on purpose is told 800 MB: more than the
// 50 MB they take alone, but no GC storm (V8 resets its external limit to
// the current amount + 64 MB after each collection).
// ARSENAL_TENSOR_OVERHEAD=bytes overrides it.
static int64_t initialOverhead() {
  const char* v = std::getenv("ARSENAL_TENSOR_OVERHEAD");
  if (v && *v) {
    char* end = nullptr;
    long long n = std::strtoll(v, &end, 10);
    if (end && *end == '\0' && n >= 0 && n <= (1 << 20)) return n;
  }
  return 8192;
}
int64_t gTensorOverhead = initialOverhead();

// Automatic trim: when the footprint has stayed far below its mark (state.h:
// lowFootprint) for 5 s (kAutoTrimMs), the program has moved on (a big dataset
// or model freed, an evaluation over): give the heap back. A loop that swings
// by hundreds of MB every step (batches allocated, freed at the scope's end)
// goes back up within the step and is never trimmed: the addon keeps freed
// memory (a 1 GB trim threshold, no mmap: addon.cc) because refaulting it costs
// up to ~1 s per 300 MB on this machine (`node dist/bench/memory.js --only swing`).
// Only erases while low check the clock (one read per 64). ARSENAL_AUTO_TRIM=0 turns it off.
static constexpr int64_t kAutoTrimMs = 5000;
static const bool autoTrim = [] {
  const char* v = std::getenv("ARSENAL_AUTO_TRIM");
  return !(v && v[0] == '0');
}();

static int64_t nowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

bool trimNow(TensorTable& table) {
  table.trimMark = table.footprint();
  table.lowSinceMs = 0;
#ifdef __GLIBC__
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

void maybeAutoTrim(TensorTable& table) {
  if (!autoTrim) return;
  if (table.lowSinceMs == 0) {
    table.lowSinceMs = nowMs();
    table.lowErases = 0;
    return;
  }
  if (++table.lowErases % 64 != 0) return;
  if (nowMs() - table.lowSinceMs >= kAutoTrimMs) trimNow(table);
}

// memory(): live tensor handles, the bytes of their distinct storages, the
// peak of those bytes, and what V8 is told (storages + the per-tensor cost).
static Napi::Value memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorTable& t = state(info)->table;
  Napi::Object o = Napi::Object::New(env);
  o.Set("tensors", Napi::Number::New(env, static_cast<double>(t.live())));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(t.bytes())));
  o.Set("peakBytes", Napi::Number::New(env, static_cast<double>(t.peakBytes())));
  o.Set("externalBytes", Napi::Number::New(env, static_cast<double>(t.footprint())));
  o.Set("tensorOverhead", Napi::Number::New(env, static_cast<double>(tensorOverhead())));
  return o;
}

static Napi::Value resetPeakMemory(const Napi::CallbackInfo& info) {
  state(info)->table.resetPeak();
  return info.Env().Undefined();
}

static Napi::Value trimMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  return Napi::Boolean::New(env, trimNow(state(info)->table));
  ARSENAL_CATCH(env, "trimMemory")
}

// markKept(h): torch.keep() — a module, an optimizer or the user owns it, so
// its finalizer must not count it as an unowned tensor (src/torch/leaks.ts).
static Napi::Value markKept(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) return Napi::Boolean::New(info.Env(), false);
  return Napi::Boolean::New(info.Env(), state(info)->table.markKept(info[0].As<Napi::Number>().DoubleValue()));
}

// finalize(h): the finalizer's free. 0: already freed; 1: freed an unowned
// tensor; 2: freed a kept one.
static Napi::Value finalize(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) return Napi::Number::New(info.Env(), 0);
  Erased e = state(info)->table.erase(info.Env(), info[0].As<Napi::Number>().DoubleValue());
  return Napi::Number::New(info.Env(), static_cast<int>(e));
}

void registerMemory(Napi::Env env, Napi::Object exports, State* s) {
  auto add = [&](const char* name, Napi::Function::Callback fn) { exports.Set(name, Napi::Function::New(env, fn, name, s)); };
  add("memory", memory);
  add("resetPeakMemory", resetPeakMemory);
  add("trimMemory", trimMemory);
  add("markKept", markKept);
  add("finalize", finalize);
}

}  // namespace arsenal
