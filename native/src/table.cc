// The tensor table: integer handles with generations (see state.h).
#include "state.h"

namespace arsenal {

static int64_t tensorBytes(const at::Tensor& t) {
  return t.defined() ? static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size()) : 0;
}

void TensorTable::account(napi_env env, int64_t delta) {
  // Report native memory to V8 so the garbage collector runs finalizers of
  // tensors that were never disposed. Batched: one call per MiB of change.
  pending_ += delta;
  if (pending_ > (1 << 20) || pending_ < -(1 << 20)) flushExternal(env);
}

void TensorTable::flushExternal(napi_env env) {
  int64_t ignored;
  if (pending_ != 0) napi_adjust_external_memory(env, pending_, &ignored);
  pending_ = 0;
}

double TensorTable::insert(napi_env env, at::Tensor t) {
  uint32_t idx;
  if (!free_.empty()) {
    idx = free_.back();
    free_.pop_back();
  } else {
    if (slots_.size() >= kSlotMask) throw std::runtime_error("too many live tensors (16M): dispose tensors or use torch.scope");
    idx = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[idx];
  s.generation += 1;
  s.reported = tensorBytes(t);
  s.tensor = std::move(t);
  s.live = true;
  ++live_;
  account(env, s.reported);
  return static_cast<double>((uint64_t(s.generation) << kSlotBits) | idx);
}

at::Tensor* TensorTable::find(double handle) {
  if (!(handle >= 1) || handle > 9007199254740991.0) return nullptr;
  uint64_t h = static_cast<uint64_t>(handle);
  if (static_cast<double>(h) != handle) return nullptr;
  uint64_t idx = h & kSlotMask;
  uint64_t gen = h >> kSlotBits;
  if (idx >= slots_.size()) return nullptr;
  Slot& s = slots_[idx];
  if (!s.live || s.generation != gen) return nullptr;
  return &s.tensor;
}

bool TensorTable::erase(napi_env env, double handle) {
  if (!find(handle)) return false;
  uint32_t idx = static_cast<uint32_t>(static_cast<uint64_t>(handle) & kSlotMask);
  Slot& s = slots_[idx];
  s.tensor = at::Tensor();
  s.live = false;
  account(env, -s.reported);
  s.reported = 0;
  // A slot whose generation is exhausted is retired, never reused: a stale
  // handle can then never match a live tensor (finalizers run after dispose()).
  if (s.generation < kMaxGeneration) free_.push_back(idx);
  --live_;
  return true;
}

}  // namespace arsenal
