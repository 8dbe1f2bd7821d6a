// The tensor table: integer handles with generations (see state.h), and the
// native memory they hold, reported to V8 so that dropped tensors create
// garbage-collection pressure (memory.cc has the per-tensor cost and the trims).
#include "state.h"

namespace arsenal {

StorageCharges::Entry& StorageCharges::get(const void* key) {
  if (2 * (size_ + 1) > table_.size()) grow();
  size_t mask = table_.size() - 1;
  for (size_t i = slot(key);; i = (i + 1) & mask) {
    Entry& e = table_[i];
    if (e.key == key) return e;
    if (e.key == nullptr) {
      e.key = key;
      e.refs = 0;
      e.bytes = 0;
      ++size_;
      return e;
    }
  }
}

StorageCharges::Entry* StorageCharges::find(const void* key) {
  size_t mask = table_.size() - 1;
  for (size_t i = slot(key);; i = (i + 1) & mask) {
    Entry& e = table_[i];
    if (e.key == key) return &e;
    if (e.key == nullptr) return nullptr;
  }
}

void StorageCharges::erase(Entry* e) {
  // Backward-shift deletion: move later entries of the probe run into the
  // hole so lookups never need tombstones.
  size_t mask = table_.size() - 1;
  size_t hole = static_cast<size_t>(e - table_.data());
  for (size_t i = (hole + 1) & mask; table_[i].key != nullptr; i = (i + 1) & mask) {
    size_t home = slot(table_[i].key);
    // Move entry i into the hole when its home is not in (hole, i] (cyclically).
    bool between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
    if (!between) {
      table_[hole] = table_[i];
      hole = i;
    }
  }
  table_[hole] = Entry();
  --size_;
}

void StorageCharges::grow() {
  std::vector<Entry> old;
  old.swap(table_);
  table_.assign(old.size() * 2, Entry());
  shift_ -= 1;
  size_ = 0;
  for (const Entry& e : old) {
    if (e.key == nullptr) continue;
    Entry& n = get(e.key);
    n.refs = e.refs;
    n.bytes = e.bytes;
  }
}

void TensorTable::account(napi_env env, int64_t delta) {
  // Report native memory to V8 so the garbage collector runs finalizers of
  // tensors that were never disposed. Batched: one call per MiB of change
  // (the call itself costs ~0.1 µs and can start a GC).
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
  // A storage is charged once however many live handles share it (views,
  // `to()` returning its input, a grad read twice): a view costs only the
  // fixed per-tensor overhead.
  const void* key = nullptr;
  int64_t delta = tensorOverhead();
  if (t.defined() && t.has_storage()) {
    const c10::StorageImpl* st = t.storage().unsafeGetStorageImpl();
    key = st;
    StorageCharges::Entry& c = storages_.get(key);
    if (c.refs++ == 0) {
      c.bytes = static_cast<int64_t>(st->nbytes());
      bytes_ += c.bytes;
      delta += c.bytes;
      if (bytes_ > peak_) peak_ = bytes_;
    }
  }
  Slot& s = slots_[idx];
  s.generation += 1;
  s.storage = key;
  s.tensor = std::move(t);
  s.live = true;
  s.kept = false;
  ++live_;
  account(env, delta);
  int64_t now = footprint();
  if (now > trimMark) trimMark = now;
  if (lowSinceMs != 0 && !lowFootprint(now, trimMark)) lowSinceMs = 0;  // back up: a swing, not a drop
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

bool TensorTable::markKept(double handle) {
  if (!find(handle)) return false;
  slots_[static_cast<uint64_t>(handle) & kSlotMask].kept = true;
  return true;
}

Erased TensorTable::erase(napi_env env, double handle) {
  if (!find(handle)) return Erased::None;
  uint32_t idx = static_cast<uint32_t>(static_cast<uint64_t>(handle) & kSlotMask);
  Slot& s = slots_[idx];
  Erased result = s.kept ? Erased::FreedKept : Erased::Freed;
  s.tensor = at::Tensor();
  s.live = false;
  s.kept = false;
  int64_t delta = -tensorOverhead();
  if (s.storage != nullptr) {
    StorageCharges::Entry* c = storages_.find(s.storage);
    if (c != nullptr && --c->refs == 0) {
      bytes_ -= c->bytes;
      delta -= c->bytes;
      storages_.erase(c);
    }
    s.storage = nullptr;
  }
  // A slot whose generation is exhausted is retired, never reused: a stale
  // handle can then never match a live tensor (finalizers run after dispose()).
  if (s.generation < kMaxGeneration) free_.push_back(idx);
  --live_;
  account(env, delta);
  if (lowFootprint(footprint(), trimMark)) maybeAutoTrim(*this);
  return result;
}

}  // namespace arsenal
