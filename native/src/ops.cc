// Operators by schema name through the c10 dispatcher: one boxed call path,
// so every ATen kernel and autograd come for free. Each JS argument is
// converted by the type its schema declares; a value of the wrong type is a
// JS TypeError here and never reaches a kernel.
#include "state.h"
#include <ATen/core/function_schema.h>
#include <ATen/core/stack.h>

namespace arsenal {

static Kind classify(const c10::TypePtr& real, bool* optional, int* fixedLen) {
  c10::TypePtr t = real;
  *optional = false;
  *fixedLen = 0;
  if (t->kind() == c10::TypeKind::OptionalType) {
    *optional = true;
    t = t->expectRef<c10::OptionalType>().getElementType();
  }
  switch (t->kind()) {
    case c10::TypeKind::TensorType: return Kind::Tensor;
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType: return Kind::Int;
    case c10::TypeKind::FloatType: return Kind::Float;
    case c10::TypeKind::BoolType: return Kind::Bool;
    case c10::TypeKind::StringType: return Kind::Str;
    case c10::TypeKind::NumberType: return Kind::Scalar;
    case c10::TypeKind::DeviceObjType: return Kind::Device;
    case c10::TypeKind::GeneratorType: return Kind::Generator;
    case c10::TypeKind::ListType: {
      c10::TypePtr e = t->expectRef<c10::ListType>().getElementType();
      switch (e->kind()) {
        case c10::TypeKind::TensorType: return Kind::TensorList;
        case c10::TypeKind::OptionalType:
          if (e->expectRef<c10::OptionalType>().getElementType()->kind() == c10::TypeKind::TensorType)
            return Kind::OptTensorList;
          return Kind::Unsupported;
        case c10::TypeKind::IntType:
        case c10::TypeKind::SymIntType: return Kind::IntList;
        case c10::TypeKind::FloatType: return Kind::FloatList;
        case c10::TypeKind::BoolType: return Kind::BoolList;
        case c10::TypeKind::NumberType: return Kind::ScalarList;
        default: return Kind::Unsupported;
      }
    }
    default: return Kind::Unsupported;
  }
}

static const char* jsTypeName(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  bool isArr = false;
  napi_is_array(env, v, &isArr);
  if (isArr) return "array";
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_object: return "object";
    case napi_function: return "function";
    default: return "value";
  }
}

[[noreturn]] static void badArg(napi_env env, const OpEntry& op, const ArgSpec& a, napi_value v, const char* expected) {
  throw Napi::TypeError::New(env, op.name + ": argument '" + a.name + "' (" + a.typeStr + ") expected " + expected +
                                      ", got " + jsTypeName(env, v));
}

static bool isNullish(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_undefined || t == napi_null;
}

static int64_t toInt(napi_env env, const OpEntry& op, const ArgSpec& a, napi_value v) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) badArg(env, op, a, v, "an integer");
  if (d != static_cast<double>(static_cast<int64_t>(d)) || d > 9.3e18 || d < -9.3e18)
    throw Napi::TypeError::New(env, op.name + ": argument '" + a.name + "' (" + a.typeStr + ") expected an integer, got " +
                                        Napi::Number::New(env, d).ToString().Utf8Value());
  return static_cast<int64_t>(d);
}

static double toFloat(napi_env env, const OpEntry& op, const ArgSpec& a, napi_value v) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) badArg(env, op, a, v, "a number");
  return d;
}

static bool toBool(napi_env env, const OpEntry& op, const ArgSpec& a, napi_value v) {
  bool b;
  if (napi_get_value_bool(env, v, &b) != napi_ok) badArg(env, op, a, v, "a boolean");
  return b;
}

static at::Tensor toTensor(napi_env env, State* s, const OpEntry& op, const ArgSpec& a, napi_value v) {
  double h;
  if (napi_get_value_double(env, v, &h) != napi_ok) badArg(env, op, a, v, "a tensor");
  at::Tensor* t = s->table.find(h);
  if (!t) throw Napi::Error::New(env, op.name + ": argument '" + a.name + "' is a disposed tensor");
  return *t;
}

template <typename F>
static void forEachElement(napi_env env, const OpEntry& op, const ArgSpec& a, napi_value v, const char* expected, F f) {
  bool isArr = false;
  napi_is_array(env, v, &isArr);
  if (!isArr) badArg(env, op, a, v, expected);
  uint32_t n;
  napi_get_array_length(env, v, &n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value e;
    napi_get_element(env, v, i, &e);
    f(e, n);
  }
}

static c10::IValue convert(napi_env env, State* s, const OpEntry& op, const ArgSpec& a, napi_value v) {
  if (a.kind == Kind::Generator) {
    if (!isNullish(env, v)) badArg(env, op, a, v, "null (generators are not passed from JS)");
    return c10::IValue();
  }
  if (a.optional && isNullish(env, v)) return c10::IValue();
  switch (a.kind) {
    case Kind::Tensor: return toTensor(env, s, op, a, v);
    case Kind::Int: {
      int64_t x = toInt(env, op, a, v);
      if (a.enumLimit > 0 && (x < 0 || x >= a.enumLimit))
        throw Napi::RangeError::New(env, op.name + ": argument '" + a.name + "' (" + a.typeStr + ") got " + std::to_string(x) +
                                             ", which is not a valid code (0 to " + std::to_string(a.enumLimit - 1) + ")");
      return x;
    }
    case Kind::Float: return toFloat(env, op, a, v);
    case Kind::Bool: return toBool(env, op, a, v);
    case Kind::Scalar: {
      napi_valuetype t;
      napi_typeof(env, v, &t);
      if (t == napi_boolean) return c10::IValue(c10::Scalar(toBool(env, op, a, v)));
      double d = toFloat(env, op, a, v);
      // An integral JS number is an int Scalar (as `x + 2` in Python), so
      // integer tensors stay integer; others are double.
      if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.0e15)
        return c10::IValue(c10::Scalar(static_cast<int64_t>(d)));
      return c10::IValue(c10::Scalar(d));
    }
    case Kind::Str: {
      size_t len;
      if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) badArg(env, op, a, v, "a string");
      std::string str(len, '\0');
      napi_get_value_string_utf8(env, v, &str[0], len + 1, &len);
      return c10::IValue(str);
    }
    case Kind::Device: {
      size_t len;
      if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) badArg(env, op, a, v, "a device string");
      std::string str(len, '\0');
      napi_get_value_string_utf8(env, v, &str[0], len + 1, &len);
      return c10::IValue(c10::Device(str));
    }
    case Kind::IntList: {
      double d;
      if (a.fixedLen > 0 && napi_get_value_double(env, v, &d) == napi_ok) {
        int64_t x = toInt(env, op, a, v);
        return c10::IValue(std::vector<int64_t>(a.fixedLen, x));
      }
      std::vector<int64_t> xs;
      forEachElement(env, op, a, v, "an array of integers", [&](napi_value e, uint32_t) { xs.push_back(toInt(env, op, a, e)); });
      return c10::IValue(xs);
    }
    case Kind::FloatList: {
      std::vector<double> xs;
      forEachElement(env, op, a, v, "an array of numbers", [&](napi_value e, uint32_t) { xs.push_back(toFloat(env, op, a, e)); });
      return c10::IValue(xs);
    }
    case Kind::ScalarList: {
      c10::impl::GenericList l(c10::NumberType::get());
      forEachElement(env, op, a, v, "an array of numbers", [&](napi_value e, uint32_t) {
        double d = toFloat(env, op, a, e);
        if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.0e15) l.push_back(c10::IValue(static_cast<int64_t>(d)));
        else l.push_back(c10::IValue(d));
      });
      return c10::IValue(l);
    }
    case Kind::BoolList: {
      std::vector<bool> xs;
      forEachElement(env, op, a, v, "an array of booleans", [&](napi_value e, uint32_t) { xs.push_back(toBool(env, op, a, e)); });
      if (a.fixedLen > 0 && static_cast<int>(xs.size()) != a.fixedLen)
        throw Napi::TypeError::New(env, op.name + ": argument '" + a.name + "' expected " + std::to_string(a.fixedLen) + " booleans");
      c10::List<bool> l;
      for (bool b : xs) l.push_back(b);
      return c10::IValue(l);
    }
    case Kind::TensorList: {
      c10::List<at::Tensor> l;
      forEachElement(env, op, a, v, "an array of tensors", [&](napi_value e, uint32_t) { l.push_back(toTensor(env, s, op, a, e)); });
      return c10::IValue(l);
    }
    case Kind::OptTensorList: {
      c10::List<c10::optional<at::Tensor>> l;
      forEachElement(env, op, a, v, "an array of tensors or nulls", [&](napi_value e, uint32_t) {
        if (isNullish(env, e)) l.push_back(c10::nullopt);
        else l.push_back(toTensor(env, s, op, a, e));
      });
      return c10::IValue(l);
    }
    default:
      throw Napi::TypeError::New(env, op.name + ": argument '" + a.name + "' has type " + a.typeStr + ", which cannot be passed from JS");
  }
}

static napi_value fromIValue(napi_env env, State* s, const c10::IValue& v) {
  napi_value out;
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) { napi_get_null(env, &out); return out; }
    napi_create_double(env, s->table.insert(env, t), &out);
  } else if (v.isTensorList()) {
    auto l = v.toTensorList();
    napi_create_array_with_length(env, l.size(), &out);
    for (size_t i = 0; i < l.size(); ++i) napi_set_element(env, out, i, fromIValue(env, s, c10::IValue(l.get(i))));
  } else if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    napi_create_array_with_length(env, elems.size(), &out);
    for (size_t i = 0; i < elems.size(); ++i) napi_set_element(env, out, i, fromIValue(env, s, elems[i]));
  } else if (v.isList()) {
    auto l = v.toList();
    napi_create_array_with_length(env, l.size(), &out);
    for (size_t i = 0; i < l.size(); ++i) napi_set_element(env, out, i, fromIValue(env, s, l.get(i)));
  } else if (v.isInt()) {
    napi_create_double(env, static_cast<double>(v.toInt()), &out);
  } else if (v.isDouble()) {
    napi_create_double(env, v.toDouble(), &out);
  } else if (v.isBool()) {
    napi_get_boolean(env, v.toBool(), &out);
  } else if (v.isScalar()) {
    c10::Scalar sc = v.toScalar();
    if (sc.isBoolean()) napi_get_boolean(env, sc.toBool(), &out);
    else if (sc.isIntegral(false)) napi_create_double(env, static_cast<double>(sc.toLong()), &out);
    else napi_create_double(env, sc.toDouble(), &out);
  } else if (v.isNone()) {
    napi_get_null(env, &out);
  } else if (v.isString()) {
    const std::string& str = v.toStringRef();
    napi_create_string_utf8(env, str.data(), str.size(), &out);
  } else {
    throw std::runtime_error("cannot return a value of type " + v.tagKind() + " to JS");
  }
  return out;
}

static Napi::Value opLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State* s = state(info);
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "opLookup: expected an operator name such as 'aten::add.Tensor'");
  std::string full = info[0].As<Napi::String>().Utf8Value();
  auto it = s->opIndex.find(full);
  if (it != s->opIndex.end()) return Napi::Number::New(env, it->second);
  std::string name = full, overload;
  auto dot = full.find('.');
  if (dot != std::string::npos) {
    name = full.substr(0, dot);
    overload = full.substr(dot + 1);
  }
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) throw Napi::Error::New(env, "unknown operator '" + full + "' (name.overload, e.g. 'aten::add.Tensor')");
  OpEntry op{*handle, full, {}, 0};
  const c10::FunctionSchema& schema = handle->schema();
  for (const c10::Argument& a : schema.arguments()) {
    ArgSpec spec;
    spec.name = a.name();
    spec.kind = classify(a.real_type(), &spec.optional, &spec.fixedLen);
    {
      c10::TypePtr rt = a.real_type();
      if (rt->kind() == c10::TypeKind::OptionalType) rt = rt->expectRef<c10::OptionalType>().getElementType();
      if (rt->kind() == c10::TypeKind::ScalarTypeType) spec.enumLimit = static_cast<int>(c10::ScalarType::NumOptions);
      else if (rt->kind() == c10::TypeKind::LayoutType) spec.enumLimit = static_cast<int>(c10::Layout::NumOptions);
      else if (rt->kind() == c10::TypeKind::MemoryFormatType) spec.enumLimit = static_cast<int>(c10::MemoryFormat::NumOptions);
    }
    if (a.N()) spec.fixedLen = static_cast<int>(*a.N());
    spec.hasDefault = a.default_value().has_value();
    if (spec.hasDefault) spec.defaultValue = *a.default_value();
    spec.typeStr = a.real_type()->str();
    op.args.push_back(std::move(spec));
  }
  op.nreturns = schema.returns().size();
  uint32_t id = static_cast<uint32_t>(s->ops.size());
  s->ops.push_back(std::move(op));
  s->opIndex.emplace(full, id);
  return Napi::Number::New(env, id);
}

static Napi::Value opSchema(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State* s = state(info);
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= s->ops.size()) throw Napi::RangeError::New(env, "opSchema: unknown operator id");
  const OpEntry& op = s->ops[id];
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", op.name);
  o.Set("schema", c10::toString(op.handle.schema()));
  Napi::Array args = Napi::Array::New(env, op.args.size());
  for (size_t i = 0; i < op.args.size(); ++i) {
    Napi::Object a = Napi::Object::New(env);
    a.Set("name", op.args[i].name);
    a.Set("type", op.args[i].typeStr);
    a.Set("optional", op.args[i].optional);
    a.Set("hasDefault", op.args[i].hasDefault);
    args.Set(i, a);
  }
  o.Set("args", args);
  Napi::Array rets = Napi::Array::New(env);
  uint32_t k = 0;
  for (const c10::Argument& r : op.handle.schema().returns()) rets.Set(k++, r.real_type()->str());
  o.Set("returns", rets);
  return o;
}

static Napi::Value listOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string prefix = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "aten::";
  std::vector<std::string> out;
  for (const c10::OperatorName& n : c10::Dispatcher::singleton().getAllOpNames()) {
    if (n.name.rfind(prefix, 0) != 0) continue;
    auto h = c10::Dispatcher::singleton().findSchema(n);
    if (h) out.push_back(c10::toString(h->schema()));
  }
  Napi::Array arr = Napi::Array::New(env, out.size());
  for (size_t i = 0; i < out.size(); ++i) arr.Set(i, out[i]);
  return arr;
}

// call(id, ...args) runs the operator and returns its results (handles for
// tensors); callVoid drops them (in-place operators return `self`).
template <bool Void>
static napi_value opCall(napi_env env, napi_callback_info cbinfo) {
  napi_value argvBuf[24];
  size_t argc = 24;
  void* data;
  napi_get_cb_info(env, cbinfo, &argc, argvBuf, nullptr, &data);
  State* s = static_cast<State*>(data);
  std::vector<napi_value> big;
  napi_value* argv = argvBuf;
  if (argc > 24) {
    big.resize(argc);
    napi_get_cb_info(env, cbinfo, &argc, big.data(), nullptr, nullptr);
    argv = big.data();
  }
  try {
    try {
      uint32_t id;
      if (argc < 1 || napi_get_value_uint32(env, argv[0], &id) != napi_ok || id >= s->ops.size())
        throw Napi::TypeError::New(env, "call: expected an operator id from opLookup");
      const OpEntry& op = s->ops[id];
      size_t given = argc - 1;
      // Trailing `undefined`s are absent arguments (JS wrappers pass optional ones through).
      while (given > 0) {
        napi_valuetype last;
        napi_typeof(env, argv[given], &last);
        if (last != napi_undefined) break;
        --given;
      }
      if (given > op.args.size())
        throw Napi::TypeError::New(env, op.name + ": takes " + std::to_string(op.args.size()) + " arguments, got " +
                                            std::to_string(given));
      // The shared stack saves an allocation per call; a call made from a JS
      // getter while another call converts its arguments gets its own.
      std::vector<c10::IValue> local;
      std::vector<c10::IValue>& stack = s->depth == 0 ? s->stack : local;
      stack.clear();
      struct Depth { int& d; explicit Depth(int& x) : d(x) { ++d; } ~Depth() { --d; } } depthGuard(s->depth);
      for (size_t i = 0; i < op.args.size(); ++i) {
        const ArgSpec& a = op.args[i];
        napi_valuetype t = napi_undefined;
        if (i < given) napi_typeof(env, argv[i + 1], &t);
        if (t == napi_undefined) {
          if (a.hasDefault) { stack.push_back(a.defaultValue); continue; }
          if (a.optional) { stack.emplace_back(); continue; }
          throw Napi::TypeError::New(env, op.name + ": missing argument '" + a.name + "' (" + a.typeStr + ")");
        }
        stack.push_back(convert(env, s, op, a, argv[i + 1]));
      }
      op.handle.callBoxed(&stack);
      napi_value out;
      if (Void || stack.empty()) {
        stack.clear();
        napi_get_undefined(env, &out);
        return out;
      }
      if (stack.size() == 1) {
        out = fromIValue(env, s, stack[0]);
      } else {
        napi_create_array_with_length(env, stack.size(), &out);
        for (size_t i = 0; i < stack.size(); ++i) napi_set_element(env, out, i, fromIValue(env, s, stack[i]));
      }
      stack.clear();
      return out;
    } catch (const Napi::Error&) {
      if (s->depth == 0) s->stack.clear();
      throw;
    } catch (...) {
      if (s->depth == 0) s->stack.clear();
      uint32_t id = 0;
      napi_get_value_uint32(env, argv[0], &id);
      rethrowAsJs(env, id < s->ops.size() ? s->ops[id].name : "call");
    }
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
    return nullptr;
  }
}

void registerOps(Napi::Env env, Napi::Object exports, State* s) {
  exports.Set("opLookup", Napi::Function::New(env, opLookup, "opLookup", s));
  exports.Set("opSchema", Napi::Function::New(env, opSchema, "opSchema", s));
  exports.Set("listOps", Napi::Function::New(env, listOps, "listOps", s));
  napi_value fn;
  napi_create_function(env, "call", NAPI_AUTO_LENGTH, opCall<false>, s, &fn);
  exports.Set("call", Napi::Value(env, fn));
  napi_create_function(env, "callVoid", NAPI_AUTO_LENGTH, opCall<true>, s, &fn);
  exports.Set("callVoid", Napi::Value(env, fn));
}

}  // namespace arsenal
