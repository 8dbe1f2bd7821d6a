// Moving bytes between JS and tensors, tensor metadata, and freeing handles.
#include "state.h"
#include <cstring>

namespace arsenal {

static std::vector<int64_t> shapeArg(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a shape (array of integers)");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": shape entries must be integers");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d < 0 || d != static_cast<double>(static_cast<int64_t>(d)))
      throw Napi::RangeError::New(v.Env(), std::string(what) + ": shape entries must be non-negative integers, got " + std::to_string(d));
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

// fromBuffer(bytes: ArrayBuffer | ArrayBufferView, dtype, shape) copies the bytes into a new tensor.
static Napi::Value fromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (info[0].IsArrayBuffer()) {
    auto ab = info[0].As<Napi::ArrayBuffer>();
    data = static_cast<const uint8_t*>(ab.Data());
    len = ab.ByteLength();
  } else if (info[0].IsTypedArray() || info[0].IsDataView()) {
    napi_value v = info[0];
    if (info[0].IsTypedArray()) {
      auto ta = info[0].As<Napi::TypedArray>();
      data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      len = ta.ByteLength();
    } else {
      void* p; size_t bl; napi_value ab; size_t off;
      napi_get_dataview_info(env, v, &bl, &p, &ab, &off);
      data = static_cast<const uint8_t*>(p);
      len = bl;
    }
  } else if (info[0].IsBuffer()) {
    auto b = info[0].As<Napi::Buffer<uint8_t>>();
    data = b.Data();
    len = b.Length();
  } else {
    throw Napi::TypeError::New(env, "fromBuffer: expected an ArrayBuffer or typed array");
  }
  c10::ScalarType dt = scalarTypeArg(info[1], "fromBuffer");
  auto shape = shapeArg(info[2], "fromBuffer");
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dt));
  size_t need = static_cast<size_t>(t.numel()) * t.element_size();
  if (need != len)
    throw Napi::RangeError::New(env, "fromBuffer: shape " + c10::str(t.sizes()) + " of " + std::string(c10::toString(dt)) + " needs " +
                                         std::to_string(need) + " bytes, got " + std::to_string(len));
  if (need) std::memcpy(t.data_ptr(), data, need);
  return wrapTensor(info, t);
  ARSENAL_CATCH(env, "fromBuffer")
}

// toBuffer(h) copies the tensor's elements (row-major, CPU) into a new ArrayBuffer.
static Napi::Value toBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  at::Tensor t = tensorArg(info, 0, "toBuffer");
  at::Tensor c = t.detach().to(at::kCPU).contiguous();
  size_t n = static_cast<size_t>(c.numel()) * c.element_size();
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, n);
  if (n) std::memcpy(ab.Data(), c.data_ptr(), n);
  return ab;
  ARSENAL_CATCH(env, "toBuffer")
}

// viewBuffer(h) exposes a contiguous CPU tensor's memory without a copy; the
// ArrayBuffer keeps the storage alive until it is garbage collected.
static Napi::Value viewBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ARSENAL_TRY
  at::Tensor t = tensorArg(info, 0, "viewBuffer");
  if (!t.device().is_cpu() || !t.is_contiguous() || t.is_conj() || t.is_neg())
    throw Napi::Error::New(env, "viewBuffer: a zero-copy view needs a contiguous CPU tensor (call .contiguous() first)");
  size_t n = static_cast<size_t>(t.numel()) * t.element_size();
  if (n == 0) return Napi::ArrayBuffer::New(env, 0);
  // Keep the storage itself alive (not the tensor object): set_data or resize_
  // on the tensor later swaps its storage, and the view must not dangle.
  auto* keep = new c10::Storage(t.storage());
  return Napi::ArrayBuffer::New(env, t.data_ptr(), n, [](Napi::Env, void*, c10::Storage* k) { delete k; }, keep);
  ARSENAL_CATCH(env, "viewBuffer")
}

static Napi::Value freeTensor(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) return Napi::Boolean::New(info.Env(), false);
  return Napi::Boolean::New(info.Env(), state(info)->table.erase(info.Env(), info[0].As<Napi::Number>().DoubleValue()) != Erased::None);
}

static Napi::Value freeMany(const Napi::CallbackInfo& info) {
  if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "freeMany: expected an array of handles");
  Napi::Array a = info[0].As<Napi::Array>();
  State* s = state(info);
  uint32_t n = 0;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value v = a.Get(i);
    if (v.IsNumber() && s->table.erase(info.Env(), v.As<Napi::Number>().DoubleValue()) != Erased::None) ++n;
  }
  return Napi::Number::New(info.Env(), n);
}

static Napi::Value isLive(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) return Napi::Boolean::New(info.Env(), false);
  return Napi::Boolean::New(info.Env(), state(info)->table.find(info[0].As<Napi::Number>().DoubleValue()) != nullptr);
}

static Napi::Value shape(const Napi::CallbackInfo& info) {
  const at::Tensor& t = tensorArg(info, 0, "shape");
  auto sizes = t.sizes();
  Napi::Array a = Napi::Array::New(info.Env(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) a.Set(i, Napi::Number::New(info.Env(), static_cast<double>(sizes[i])));
  return a;
}

static Napi::Value strides(const Napi::CallbackInfo& info) {
  const at::Tensor& t = tensorArg(info, 0, "strides");
  auto st = t.strides();
  Napi::Array a = Napi::Array::New(info.Env(), st.size());
  for (size_t i = 0; i < st.size(); ++i) a.Set(i, Napi::Number::New(info.Env(), static_cast<double>(st[i])));
  return a;
}

static Napi::Value dtype(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int>(tensorArg(info, 0, "dtype").scalar_type()));
}

static Napi::Value device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), tensorArg(info, 0, "device").device().str());
}

static Napi::Value numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(tensorArg(info, 0, "numel").numel()));
}

static Napi::Value dim(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(tensorArg(info, 0, "dim").dim()));
}

static Napi::Value isContiguous(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tensorArg(info, 0, "isContiguous").is_contiguous());
}

void registerTensorIO(Napi::Env env, Napi::Object exports, State* s) {
  auto add = [&](const char* name, Napi::Function::Callback fn) { exports.Set(name, Napi::Function::New(env, fn, name, s)); };
  add("fromBuffer", fromBuffer);
  add("toBuffer", toBuffer);
  add("viewBuffer", viewBuffer);
  add("free", freeTensor);
  add("freeMany", freeMany);
  add("isLive", isLive);
  add("shape", shape);
  add("strides", strides);
  add("dtype", dtype);
  add("device", device);
  add("numel", numel);
  add("dim", dim);
  add("isContiguous", isContiguous);
}

}  // namespace arsenal
