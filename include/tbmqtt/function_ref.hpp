// tbmqtt — a non-owning reference to a callable (a pointer plus a context), the core's callback
// type. No heap, no std::function, no RTTI.
#pragma once

#include <type_traits>
#include <utility>

namespace tbmqtt {

template <typename Signature>
class function_ref;

/// @brief Refers to a callable without owning it. Three ways to make one:
///   - a plain function or a lambda without captures: `function_ref<int()>{[] { return 1; }}`;
///   - a callable object that outlives the reference (an lvalue): `auto f = [&] {...}; function_ref<int()>{f}`;
///   - a C-style pair: `function_ref<int()>{&thunk, context}` with `int thunk(void* context)`.
/// A temporary lambda with captures does not bind (it would dangle): name it first.
/// A default-constructed function_ref is empty (`!ref`); calling it is a contract violation.
template <typename R, typename... Args>
class function_ref<R(Args...)> {
 public:
  using thunk_type = R (*)(void* context, Args...);

  constexpr function_ref() noexcept = default;
  /// A C-style callback: `thunk(context, args...)`.
  function_ref(thunk_type thunk, void* context) noexcept : call_(&call_thunk), object_(context) {
    function_ = reinterpret_cast<void (*)()>(thunk);
  }
  /// A plain function, or a lambda without captures (converted to a function pointer).
  function_ref(R (*fn)(Args...)) noexcept  // NOLINT: implicit on purpose
      : call_(fn == nullptr ? nullptr : &call_function), function_(reinterpret_cast<void (*)()>(fn)) {}
  /// A callable object, referenced (not copied): it must outlive every call.
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, function_ref> &&
                                                    std::is_invocable_r_v<R, F&, Args...>>>
  function_ref(F& callable) noexcept  // NOLINT: implicit on purpose
      : call_(&call_object<F>), object_(const_cast<void*>(static_cast<const void*>(&callable))) {}

  explicit operator bool() const noexcept { return call_ != nullptr; }
  /// @pre *this is not empty.
  R operator()(Args... args) const { return call_(*this, std::forward<Args>(args)...); }

 private:
  using call_type = R (*)(const function_ref&, Args...);
  static R call_thunk(const function_ref& self, Args... args) {
    return reinterpret_cast<thunk_type>(self.function_)(self.object_, std::forward<Args>(args)...);
  }
  static R call_function(const function_ref& self, Args... args) {
    return reinterpret_cast<R (*)(Args...)>(self.function_)(std::forward<Args>(args)...);
  }
  template <typename F>
  static R call_object(const function_ref& self, Args... args) {
    return (*static_cast<F*>(self.object_))(std::forward<Args>(args)...);
  }

  call_type call_ = nullptr;
  void* object_ = nullptr;
  void (*function_)() = nullptr;
};

}  // namespace tbmqtt
