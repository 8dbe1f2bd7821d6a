// c10d, the engine under torch.distributed and DistributedDataParallel, for JS:
// a store for the rendezvous (FileStore on one machine: nothing listens on the
// network; TCPStore, hosted by rank 0, across machines), a Gloo process group
// (ProcessGroupGloo, the CPU backend) and the collectives training needs. A
// collective returns a work handle; distWait blocks on it, distWaitAsync
// resolves a Promise from libuv's thread pool, so a JS `await` never blocks the
// event loop. Every failure (a peer that left, a timeout, a wrong world size)
// is a JS Error naming the operation and the rank; nothing aborts the process.
// The TypeScript side (src/distributed/) checks the arguments first.
#include "state.h"
// libtorch's Gloo classes are declared only under USE_C10D_GLOO, the define
// its own build sets; Debian's libtorch and the official distributions are
// built with Gloo (libtorch_cpu exports c10d::ProcessGroupGloo).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/logger.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#include <torch/csrc/autograd/custom_function.h>
#include <algorithm>
#include <chrono>
#include <limits>
#include <mutex>
#include <unordered_map>

namespace arsenal {

namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int rank = 0;
  int size = 1;
  std::chrono::milliseconds timeout{0};
};

struct PendingWork {
  c10::intrusive_ptr<c10d::Work> work;
  std::string what;  // "allreduce on rank 0 of 2", for the error
  std::chrono::milliseconds timeout{0};
};

// Process-wide, as c10d's groups are (one process, one rank); handles are
// small integers, never reused.
std::mutex gMutex;
std::unordered_map<int64_t, std::shared_ptr<Group>> gGroups;
std::unordered_map<int64_t, std::shared_ptr<PendingWork>> gWorks;
int64_t gNextGroup = 1, gNextWork = 1;

std::string str(const Napi::Object& o, const char* key, const std::string& fallback = "") {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("initProcessGroup: ") + key + ": expected a string");
  return v.As<Napi::String>().Utf8Value();
}

int64_t num(const Napi::Object& o, const char* key, int64_t fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("initProcessGroup: ") + key + ": expected a number");
  return v.As<Napi::Number>().Int64Value();
}

std::shared_ptr<Group> groupArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected a process group handle");
  std::lock_guard<std::mutex> lock(gMutex);
  auto it = gGroups.find(info[i].As<Napi::Number>().Int64Value());
  if (it == gGroups.end()) throw Napi::Error::New(info.Env(), std::string(what) + ": the process group was destroyed (or never initialised)");
  return it->second;
}

// contiguous: the collectives' own requirement (Gloo reads the memory as it
// lies); DDP's broadcast and Reducer take any dense layout (channels-last
// parameters), as PyTorch's do.
std::vector<at::Tensor> tensorsArg(const Napi::CallbackInfo& info, size_t i, const char* what, bool contiguous = true) {
  if (!info[i].IsArray()) throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected an array of tensors");
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected tensor handles");
    at::Tensor* t = state(info)->table.find(v.As<Napi::Number>().DoubleValue());
    if (!t) throw Napi::Error::New(info.Env(), std::string(what) + ": a tensor was disposed");
    if (t->is_sparse() || (contiguous ? !t->is_contiguous() : !t->is_non_overlapping_and_dense()))
      throw Napi::Error::New(info.Env(), std::string(what) + (contiguous ? ": tensors must be dense and contiguous" : ": tensors must be dense"));
    out.push_back(*t);
  }
  return out;
}

std::string where(const Group& g, const char* op) {
  return std::string(op) + " on rank " + std::to_string(g.rank) + " of " + std::to_string(g.size);
}

Napi::Value track(const Napi::CallbackInfo& info, c10::intrusive_ptr<c10d::Work> work, const Group& g, const char* op) {
  auto w = std::make_shared<PendingWork>();
  w->work = std::move(work);
  w->what = where(g, op);
  w->timeout = g.timeout;
  std::lock_guard<std::mutex> lock(gMutex);
  int64_t id = gNextWork++;
  gWorks[id] = std::move(w);
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

std::shared_ptr<PendingWork> takeWork(const Napi::CallbackInfo& info, const char* what) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected a work handle");
  std::lock_guard<std::mutex> lock(gMutex);
  auto it = gWorks.find(info[0].As<Napi::Number>().Int64Value());
  if (it == gWorks.end()) throw Napi::Error::New(info.Env(), std::string(what) + ": the work was already waited on");
  auto w = it->second;
  gWorks.erase(it);
  return w;
}

// Waits for the work; an empty string when it succeeded, else the message.
std::string waitFor(PendingWork& w) {
  try {
    // Gloo's own timeout (the group's) ends a collective whose peer is silent;
    // this one is a backstop for a work that never reports.
    if (!w.work->wait(w.timeout + std::chrono::milliseconds(5000))) return w.what + " failed: it did not complete within the timeout";
    return "";
  } catch (const c10::Error& e) {
    std::string m = e.what_without_backtrace();
    auto pos = m.find("\nException raised from");
    if (pos != std::string::npos) m = m.substr(0, pos);
    return w.what + " failed: " + m;
  } catch (const std::exception& e) {
    return w.what + " failed: " + e.what();
  }
}

c10d::ReduceOp reduceOpArg(const Napi::CallbackInfo& info, size_t i) {
  std::string op = info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : "";
  if (op == "sum") return c10d::ReduceOp::SUM;
  if (op == "product") return c10d::ReduceOp::PRODUCT;
  if (op == "min") return c10d::ReduceOp::MIN;
  if (op == "max") return c10d::ReduceOp::MAX;
  throw Napi::Error::New(info.Env(), "allReduce: op must be 'sum', 'product', 'min' or 'max', got '" + op + "'");
}

// distInitProcessGroup({ store: 'file'|'tcp', path | host+port, rank, worldSize, timeoutMs, prefix, hostname })
Napi::Value distInitProcessGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "initProcessGroup: expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto g = std::make_shared<Group>();
  g->rank = static_cast<int>(num(o, "rank", -1));
  g->size = static_cast<int>(num(o, "worldSize", -1));
  g->timeout = std::chrono::milliseconds(num(o, "timeoutMs", 1800000));
  std::string kind = str(o, "store"), prefix = str(o, "prefix", "arsenal"), hostname = str(o, "hostname", "127.0.0.1");
  std::string what = "initProcessGroup (rank " + std::to_string(g->rank) + " of " + std::to_string(g->size) + ")";
  try {
    c10::intrusive_ptr<c10d::Store> base;
    if (kind == "file") {
      base = c10::make_intrusive<c10d::FileStore>(str(o, "path"), g->size);
    } else if (kind == "tcp") {
      c10d::TCPStoreOptions opts;
      opts.port = static_cast<std::uint16_t>(num(o, "port", 29500));
      opts.isServer = g->rank == 0;
      opts.numWorkers = static_cast<std::size_t>(g->size);
      opts.waitWorkers = true;
      opts.timeout = g->timeout;
      base = c10::make_intrusive<c10d::TCPStore>(str(o, "host"), opts);
    } else {
      throw Napi::Error::New(env, "initProcessGroup: store must be 'file' or 'tcp', got '" + kind + "'");
    }
    base->setTimeout(g->timeout);
    // Rank 0 states the run; a process of another run (a stale worker reaching
    // this run's store) is refused before it joins anything.
    if (g->rank == 0) base->set("arsenal/run", std::vector<uint8_t>(prefix.begin(), prefix.end()));
    auto run = base->get("arsenal/run");
    std::string theirRun(run.begin(), run.end());
    if (theirRun != prefix)
      throw std::runtime_error("this process belongs to run '" + prefix + "' but the store's rank 0 started run '" + theirRun + "' (a stale worker of another run?)");
    // The run's keys under its own prefix, so a stale run's keys (a FileStore
    // left behind, a late process) are never read as this run's.
    g->store = c10::make_intrusive<c10d::PrefixStore>(prefix, base);
    // Every rank states the world size it was given; a mismatch is refused
    // here, before Gloo's rendezvous would wait for ranks that never come.
    std::string mine = std::to_string(g->size);
    g->store->set("world_size/" + std::to_string(g->rank), std::vector<uint8_t>(mine.begin(), mine.end()));
    auto zero = g->store->get("world_size/0");
    std::string theirs(zero.begin(), zero.end());
    if (theirs != mine)
      throw std::runtime_error("rank 0 was started with world size " + theirs + ", this rank with " + mine + " (every rank must be given the same worldSize)");
    auto opts = c10d::ProcessGroupGloo::Options::create(g->timeout);
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
    opts->threads = 2;
    g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, g->rank, g->size, opts);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrowAsJs(env, what);
  }
  std::lock_guard<std::mutex> lock(gMutex);
  int64_t id = gNextGroup++;
  gGroups[id] = g;
  return Napi::Number::New(env, static_cast<double>(id));
}

Napi::Value distDestroyProcessGroup(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "destroyProcessGroup: expected a process group handle");
  std::shared_ptr<Group> g;
  {
    std::lock_guard<std::mutex> lock(gMutex);
    auto it = gGroups.find(info[0].As<Napi::Number>().Int64Value());
    if (it == gGroups.end()) return info.Env().Undefined();
    g = it->second;
    gGroups.erase(it);
  }
  g->pg.reset();
  g->store.reset();
  return info.Env().Undefined();
}

Napi::Value distAllReduce(const Napi::CallbackInfo& info) {
  auto g = groupArg(info, 0, "allReduce");
  auto ts = tensorsArg(info, 1, "allReduce");
  c10d::AllreduceOptions opts;
  opts.reduceOp = reduceOpArg(info, 2);
  opts.timeout = g->timeout;
  try {
    if (ts.size() == 1) return track(info, g->pg->allreduce(ts, opts), *g, "allreduce");
    c10d::AllreduceCoalescedOptions copts;
    copts.reduceOp = opts.reduceOp;
    copts.timeout = g->timeout;
    return track(info, g->pg->allreduce_coalesced(ts, copts), *g, "allreduce_coalesced");
  } catch (...) {
    rethrowAsJs(info.Env(), where(*g, "allreduce"));
  }
  return info.Env().Undefined();
}

Napi::Value distBroadcast(const Napi::CallbackInfo& info) {
  auto g = groupArg(info, 0, "broadcast");
  auto ts = tensorsArg(info, 1, "broadcast");
  if (ts.size() != 1) throw Napi::Error::New(info.Env(), "broadcast: expected one tensor");
  c10d::BroadcastOptions opts;
  opts.rootRank = info[2].As<Napi::Number>().Int32Value();
  opts.timeout = g->timeout;
  try {
    return track(info, g->pg->broadcast(ts, opts), *g, "broadcast");
  } catch (...) {
    rethrowAsJs(info.Env(), where(*g, "broadcast"));
  }
  return info.Env().Undefined();
}

Napi::Value distAllGather(const Napi::CallbackInfo& info) {
  auto g = groupArg(info, 0, "allGather");
  auto outs = tensorsArg(info, 1, "allGather");
  auto in = tensorsArg(info, 2, "allGather");
  if (in.size() != 1 || static_cast<int>(outs.size()) != g->size)
    throw Napi::Error::New(info.Env(), "allGather: expected one input and worldSize outputs");
  std::vector<std::vector<at::Tensor>> outputs{outs};
  c10d::AllgatherOptions opts;
  opts.timeout = g->timeout;
  try {
    return track(info, g->pg->allgather(outputs, in, opts), *g, "allgather");
  } catch (...) {
    rethrowAsJs(info.Env(), where(*g, "allgather"));
  }
  return info.Env().Undefined();
}

Napi::Value distBarrier(const Napi::CallbackInfo& info) {
  auto g = groupArg(info, 0, "barrier");
  c10d::BarrierOptions opts;
  opts.timeout = g->timeout;
  try {
    return track(info, g->pg->barrier(opts), *g, "barrier");
  } catch (...) {
    rethrowAsJs(info.Env(), where(*g, "barrier"));
  }
  return info.Env().Undefined();
}

// Store access for the launcher and the meters: set/get of small strings.
Napi::Value distStoreSet(const Napi::CallbackInfo& info) {
  auto g = groupArg(info, 0, "store.set");
  std::string k = info[1].As<Napi::String>().Utf8Value(), v = info[2].As<Napi::String>().Utf8Value();
  try {
    g->store->set("user/" + k, std::vector<uint8_t>(v.begin(), v.end()));
  } catch (...) {
    rethrowAsJs(info.Env(), where(*g, "store.set"));
  }
  return info.Env().Undefined();
}

Napi::Value distStoreGet(const Napi::CallbackInfo& info) {
  auto g = groupArg(info, 0, "store.get");
  std::string k = info[1].As<Napi::String>().Utf8Value();
  try {
    auto v = g->store->get("user/" + k);
    return Napi::String::New(info.Env(), std::string(v.begin(), v.end()));
  } catch (...) {
    rethrowAsJs(info.Env(), where(*g, "store.get"));
  }
  return info.Env().Undefined();
}

Napi::Value distStoreDelete(const Napi::CallbackInfo& info) {
  auto g = groupArg(info, 0, "store.delete");
  std::string k = info[1].As<Napi::String>().Utf8Value();
  try {
    return Napi::Boolean::New(info.Env(), g->store->deleteKey("user/" + k));
  } catch (...) {
    rethrowAsJs(info.Env(), where(*g, "store.delete"));
  }
  return info.Env().Undefined();
}

Napi::Value distWait(const Napi::CallbackInfo& info) {
  auto w = takeWork(info, "wait");
  std::string err = waitFor(*w);
  if (!err.empty()) throw Napi::Error::New(info.Env(), err);
  return info.Env().Undefined();
}

class WaitWorker : public Napi::AsyncWorker {
 public:
  WaitWorker(Napi::Env env, std::shared_ptr<PendingWork> w) : Napi::AsyncWorker(env), work_(std::move(w)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override { err_ = waitFor(*work_); }
  void OnOK() override {
    work_.reset();
    if (err_.empty()) deferred_.Resolve(Env().Undefined());
    else deferred_.Reject(Napi::Error::New(Env(), err_).Value());
  }

 private:
  std::shared_ptr<PendingWork> work_;
  Napi::Promise::Deferred deferred_;
  std::string err_;
};

Napi::Value distWaitAsync(const Napi::CallbackInfo& info) {
  auto w = takeWork(info, "wait");
  auto* worker = new WaitWorker(info.Env(), std::move(w));
  auto p = worker->promise();
  worker->Queue();
  return p;
}

Napi::Value distIsCompleted(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "isCompleted: expected a work handle");
  std::lock_guard<std::mutex> lock(gMutex);
  auto it = gWorks.find(info[0].As<Napi::Number>().Int64Value());
  return Napi::Boolean::New(info.Env(), it == gWorks.end() || it->second->work->isCompleted());
}

// ---- DistributedDataParallel: c10d's own Reducer ---------------------------------------------
// PyTorch's DDP bucketing and overlap (torch/nn/parallel/distributed.py,
// _ddp_init_helper): autograd hooks on every parameter's grad accumulator
// all-reduce a bucket as soon as its gradients are ready, during backward, and
// the bucket is averaged by the world size. The first iteration runs with one
// bucket (sys.maxsize), then rebuild_buckets() regroups by the order the
// gradients were ready, first bucket 1 MB (_DEFAULT_FIRST_BUCKET_BYTES), the
// others bucketCap (25 MB by default).
struct ReducerEntry {
  std::shared_ptr<Group> group;
  std::shared_ptr<c10d::Reducer> reducer;
  // DDP's Logger: the Reducer reports to it (searching for unused parameters
  // dereferences it), and it must go before the Reducer (declared after it).
  std::shared_ptr<c10d::Logger> logger;
};
std::unordered_map<int64_t, std::shared_ptr<ReducerEntry>> gReducers;
int64_t gNextReducer = 1;

std::shared_ptr<ReducerEntry> reducerArg(const Napi::CallbackInfo& info, const char* what) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected a reducer handle");
  std::lock_guard<std::mutex> lock(gMutex);
  auto it = gReducers.find(info[0].As<Napi::Number>().Int64Value());
  if (it == gReducers.end()) throw Napi::Error::New(info.Env(), std::string(what) + ": the DistributedDataParallel was disposed");
  return it->second;
}

// distReducerNew(group, params[], names[], bucketCapBytes, findUnused, moduleName, broadcastBuffers)
Napi::Value distReducerNew(const Napi::CallbackInfo& info) {
  auto g = groupArg(info, 0, "DistributedDataParallel");
  auto params = tensorsArg(info, 1, "DistributedDataParallel: parameters", false);
  if (!info[2].IsArray()) throw Napi::TypeError::New(info.Env(), "DistributedDataParallel: expected the parameters' names");
  Napi::Array names = info[2].As<Napi::Array>();
  std::unordered_map<size_t, std::string> paramNames;
  for (uint32_t i = 0; i < names.Length(); i++) paramNames[i] = names.Get(i).As<Napi::String>().Utf8Value();
  int64_t cap = info[3].As<Napi::Number>().Int64Value();
  bool findUnused = info[4].As<Napi::Boolean>().Value();
  auto e = std::make_shared<ReducerEntry>();
  e->group = g;
  try {
    std::vector<bool> sparse(params.size(), false);
    std::vector<size_t> limits{findUnused ? size_t(1024 * 1024) : std::numeric_limits<size_t>::max()};
    if (findUnused) limits.push_back(static_cast<size_t>(cap));
    auto assignment = c10d::compute_bucket_assignment_by_size(params, limits, sparse);
    auto buckets = std::get<0>(assignment);
    auto perBucket = std::get<1>(assignment);
    std::reverse(buckets.begin(), buckets.end());
    std::reverse(perBucket.begin(), perBucket.end());
    e->reducer = std::make_shared<c10d::Reducer>(params, buckets, perBucket, g->pg, sparse, cap, findUnused,
                                                 /*gradient_as_bucket_view=*/false, paramNames, /*first_bucket_bytes_cap=*/1024 * 1024);
    e->logger = std::make_shared<c10d::Logger>(e->reducer);
    e->reducer->set_logger(e->logger);
    e->logger->set_construction_data_and_log(info[5].As<Napi::String>().Utf8Value(), {}, -1, info[6].As<Napi::Boolean>().Value(),
                                             /*has_sync_bn=*/false, /*static_graph=*/false);
  } catch (...) {
    rethrowAsJs(info.Env(), where(*g, "DistributedDataParallel"));
  }
  std::lock_guard<std::mutex> lock(gMutex);
  int64_t id = gNextReducer++;
  gReducers[id] = e;
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

// Before a forward with grad enabled: the reducer's per-iteration state, and the buckets rebuilt after the first iteration.
Napi::Value distReducerPrepareForward(const Napi::CallbackInfo& info) {
  auto e = reducerArg(info, "DistributedDataParallel.forward");
  try {
    e->reducer->prepare_for_forward();
    return Napi::Boolean::New(info.Env(), e->reducer->rebuild_buckets());
  } catch (...) {
    rethrowAsJs(info.Env(), where(*e->group, "DistributedDataParallel.forward"));
  }
  return info.Env().Undefined();
}

// After the forward: the outputs to search for unused parameters (findUnusedParameters), or none.
Napi::Value distReducerPrepareBackward(const Napi::CallbackInfo& info) {
  auto e = reducerArg(info, "DistributedDataParallel.forward");
  auto outputs = tensorsArg(info, 1, "DistributedDataParallel: outputs", false);
  try {
    e->reducer->prepare_for_backward(outputs);
  } catch (...) {
    rethrowAsJs(info.Env(), where(*e->group, "DistributedDataParallel.forward"));
  }
  return info.Env().Undefined();
}

Napi::Value distReducerFree(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) return info.Env().Undefined();
  std::shared_ptr<ReducerEntry> e;
  {
    std::lock_guard<std::mutex> lock(gMutex);
    auto it = gReducers.find(info[0].As<Napi::Number>().Int64Value());
    if (it == gReducers.end()) return info.Env().Undefined();
    e = it->second;
    gReducers.erase(it);
  }
  try {
    e->logger.reset();
    e->reducer.reset();
  } catch (...) {
    rethrowAsJs(info.Env(), "DistributedDataParallel.dispose");
  }
  return info.Env().Undefined();
}

// c10d's broadcast_coalesced (DDP's _sync_module_states): the tensors flattened into buffers of bufferBytes, broadcast from src, copied back. Synchronous.
Napi::Value distBroadcastCoalesced(const Napi::CallbackInfo& info) {
  auto g = groupArg(info, 0, "broadcastCoalesced");
  auto ts = tensorsArg(info, 1, "broadcastCoalesced", false);
  size_t bytes = static_cast<size_t>(info[2].As<Napi::Number>().Int64Value());
  int src = info[3].As<Napi::Number>().Int32Value();
  try {
    at::NoGradGuard noGrad;  // parameters are written in place (PyTorch runs _sync_module_states under no_grad)
    c10d::broadcast_coalesced(g->pg, ts, bytes, src);
  } catch (...) {
    rethrowAsJs(info.Env(), where(*g, "broadcast_coalesced"));
  }
  return info.Env().Undefined();
}

// ---- SyncBatchNorm ------------------------------------------------------------------------------
// PyTorch's torch.nn.SyncBatchNorm (torch/nn/modules/_functions.py) on the CPU:
// the batch statistics over every rank's batch (sums of x and x² and the count,
// all-reduced), the running statistics updated with them (the unbiased
// variance), and in backward the two per-channel sums of the input gradient
// all-reduced (sum_dy, sum_dy_xmu), the weight and bias gradients left local
// (DistributedDataParallel averages them). Statistics in float32.
struct SyncBNFunction : public torch::autograd::Function<SyncBNFunction> {
  static std::vector<int64_t> reduceDims(const at::Tensor& x) {
    std::vector<int64_t> d;
    for (int64_t i = 0; i < x.dim(); i++) if (i != 1) d.push_back(i);
    return d;
  }
  static at::Tensor allreduceSum(int64_t groupId, at::Tensor t, const char* op) {
    std::shared_ptr<Group> g;
    {
      std::lock_guard<std::mutex> lock(gMutex);
      auto it = gGroups.find(groupId);
      TORCH_CHECK(it != gGroups.end(), "SyncBatchNorm: the process group was destroyed");
      g = it->second;
    }
    std::vector<at::Tensor> ts{t.contiguous()};
    c10d::AllreduceOptions opts;
    opts.timeout = g->timeout;
    auto work = g->pg->allreduce(ts, opts);
    try {
      work->wait(g->timeout);
    } catch (const std::exception& e) {
      TORCH_CHECK(false, where(*g, op), " failed: ", e.what());
    }
    return ts[0];
  }
  static at::Tensor view(const at::Tensor& v, const at::Tensor& x) {
    std::vector<int64_t> shape(x.dim(), 1);
    shape[1] = x.size(1);
    return v.view(shape);
  }
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            at::Tensor runningMean, at::Tensor runningVar, double eps, double momentum, int64_t groupId) {
    at::NoGradGuard noGrad;
    auto dims = reduceDims(x);
    auto xf = x.to(at::kFloat);
    int64_t c = x.size(1);
    double localCount = static_cast<double>(x.numel() / std::max<int64_t>(c, 1));
    auto combined = at::cat({xf.sum(dims), xf.mul(xf).sum(dims), at::full({1}, localCount, xf.options())}).to(at::kDouble);
    combined = allreduceSum(groupId, combined, "SyncBatchNorm forward (all-reduce of the batch statistics)");
    double count = combined[2 * c].item<double>();
    TORCH_CHECK(count > 1, "SyncBatchNorm: expected more than 1 value per channel over all processes, got ", count);
    auto mean = combined.slice(0, 0, c).div(count);
    auto var = combined.slice(0, c, 2 * c).div(count).sub(mean.mul(mean)).clamp_min(0);
    auto invstd = var.add(eps).rsqrt();
    if (runningMean.defined()) runningMean.mul_(1 - momentum).add_(mean.to(runningMean.scalar_type()), momentum);
    if (runningVar.defined()) runningVar.mul_(1 - momentum).add_(var.mul(count / (count - 1)).to(runningVar.scalar_type()), momentum);
    auto meanF = mean.to(at::kFloat), invstdF = invstd.to(at::kFloat);
    auto y = xf.sub(view(meanF, x)).mul(view(invstdF, x));
    if (weight.defined()) y = y.mul(view(weight.to(at::kFloat), x));
    if (bias.defined()) y = y.add(view(bias.to(at::kFloat), x));
    ctx->save_for_backward({x, weight, meanF, invstdF});
    ctx->saved_data["count"] = count;
    ctx->saved_data["group"] = groupId;
    ctx->saved_data["hasBias"] = bias.defined();
    return y.to(x.scalar_type());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto x = saved[0], weight = saved[1], mean = saved[2], invstd = saved[3];
    double count = ctx->saved_data["count"].toDouble();
    int64_t groupId = ctx->saved_data["group"].toInt();
    bool hasBias = ctx->saved_data["hasBias"].toBool();
    auto dims = reduceDims(x);
    auto dy = grads[0].to(at::kFloat);
    auto xmu = x.to(at::kFloat).sub(view(mean, x));
    auto sumDy = dy.sum(dims), sumDyXmu = dy.mul(xmu).sum(dims);
    at::Tensor gradWeight, gradBias;
    if (weight.defined()) gradWeight = sumDyXmu.mul(invstd).to(weight.scalar_type());
    if (hasBias) gradBias = sumDy.to(weight.defined() ? weight.scalar_type() : at::kFloat);
    int64_t c = x.size(1);
    auto both = allreduceSum(groupId, at::cat({sumDy, sumDyXmu}), "SyncBatchNorm backward (all-reduce of the gradient sums)");
    auto gSumDy = both.slice(0, 0, c), gSumDyXmu = both.slice(0, c, 2 * c);
    auto scale = weight.defined() ? invstd.mul(weight.to(at::kFloat)) : invstd;
    auto gradInput = dy.sub(view(gSumDy.div(count), x)).sub(xmu.mul(view(invstd.mul(invstd).mul(gSumDyXmu.div(count)), x))).mul(view(scale, x));
    return {gradInput.to(x.scalar_type()), gradWeight, gradBias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// distSyncBatchNorm(group, x, weight|null, bias|null, runningMean|null, runningVar|null, eps, momentum)
Napi::Value distSyncBatchNorm(const Napi::CallbackInfo& info) {
  auto g = groupArg(info, 0, "SyncBatchNorm");
  auto opt = [&](size_t i, const char* what) -> at::Tensor { return info[i].IsNull() || info[i].IsUndefined() ? at::Tensor() : tensorArg(info, i, what); };
  at::Tensor x = tensorArg(info, 1, "SyncBatchNorm: input");
  at::Tensor w = opt(2, "SyncBatchNorm: weight"), b = opt(3, "SyncBatchNorm: bias"), rm = opt(4, "SyncBatchNorm: running_mean"), rv = opt(5, "SyncBatchNorm: running_var");
  double eps = info[6].As<Napi::Number>().DoubleValue(), momentum = info[7].As<Napi::Number>().DoubleValue();
  int64_t id = info[0].As<Napi::Number>().Int64Value();
  try {
    return wrapTensor(info, SyncBNFunction::apply(x, w, b, rm, rv, eps, momentum, id));
  } catch (...) {
    rethrowAsJs(info.Env(), where(*g, "SyncBatchNorm"));
  }
  return info.Env().Undefined();
}

}  // namespace

void registerDistributed(Napi::Env env, Napi::Object exports, State* s) {
  auto add = [&](const char* name, Napi::Function::Callback fn) { exports.Set(name, Napi::Function::New(env, fn, name, s)); };
  add("distInitProcessGroup", distInitProcessGroup);
  add("distDestroyProcessGroup", distDestroyProcessGroup);
  add("distAllReduce", distAllReduce);
  add("distBroadcast", distBroadcast);
  add("distAllGather", distAllGather);
  add("distBarrier", distBarrier);
  add("distStoreSet", distStoreSet);
  add("distStoreGet", distStoreGet);
  add("distStoreDelete", distStoreDelete);
  add("distWait", distWait);
  add("distWaitAsync", distWaitAsync);
  add("distIsCompleted", distIsCompleted);
  add("distReducerNew", distReducerNew);
  add("distReducerPrepareForward", distReducerPrepareForward);
  add("distReducerPrepareBackward", distReducerPrepareBackward);
  add("distReducerFree", distReducerFree);
  add("distBroadcastCoalesced", distBroadcastCoalesced);
  add("distSyncBatchNorm", distSyncBatchNorm);
}

}  // namespace arsenal
