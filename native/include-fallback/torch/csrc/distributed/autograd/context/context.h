// Debian's libtorch-dev ships c10d's reducer.hpp (DistributedDataParallel's
// Reducer) but not the distributed-autograd header it includes, for two names
// it uses: DistAutogradContext::GradCallback (checked by a static_assert to be
// std::function<bool(at::Tensor&)>) and ContextPtr, held by a member of the
// Reducer (a std::shared_ptr, whose size does not depend on the type it points
// to). This declares those two names as libtorch 1.13 defines them
// (torch/csrc/distributed/autograd/context/context.h), so the Reducer's layout
// here is libtorch's; nothing here calls distributed autograd. binding.gyp puts
// this folder last on the include path: a libtorch that has the real header
// uses it.
#pragma once
#include <ATen/core/Tensor.h>
#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};

using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
