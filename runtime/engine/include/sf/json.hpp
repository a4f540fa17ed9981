// sf/json.hpp — a small strict JSON reader (config files) and a streaming JSON writer (results).
//
// Design: start-up / shut-down only, never on the hot path. The reader parses RFC 8259 JSON into
// a tree (objects keep key order; duplicate keys are an error) and reports line:column on syntax
// errors. Numbers keep their source text so integers survive exactly. The writer appends to a
// std::string with automatic comma handling and escapes strings; doubles use %.17g (round-trip)
// and non-finite values are written as null.
// Worst case: parse O(n) in input size, recursion depth limited to 64.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sf::json {

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };
  Value() = default;

  [[nodiscard]] Type type() const noexcept { return type_; }
  [[nodiscard]] bool is_null() const noexcept { return type_ == Type::Null; }
  [[nodiscard]] bool is_bool() const noexcept { return type_ == Type::Bool; }
  [[nodiscard]] bool is_number() const noexcept { return type_ == Type::Number; }
  [[nodiscard]] bool is_string() const noexcept { return type_ == Type::String; }
  [[nodiscard]] bool is_array() const noexcept { return type_ == Type::Array; }
  [[nodiscard]] bool is_object() const noexcept { return type_ == Type::Object; }
  [[nodiscard]] bool as_bool() const noexcept { return b_; }
  [[nodiscard]] double as_double() const noexcept { return num_; }
  /// True when the number is an integer that fits int64 (text has no '.', 'e').
  [[nodiscard]] bool is_integer() const noexcept { return is_int_; }
  [[nodiscard]] std::int64_t as_int() const noexcept { return int_; }
  [[nodiscard]] const std::string& as_string() const noexcept { return str_; }
  [[nodiscard]] const std::vector<Value>& items() const noexcept { return arr_; }
  [[nodiscard]] const std::vector<std::pair<std::string, Value>>& members() const noexcept { return obj_; }
  [[nodiscard]] const Value* get(std::string_view key) const noexcept {
    for (const auto& [k, v] : obj_)
      if (k == key) return &v;
    return nullptr;
  }
  /// Short human description of the value, for error messages.
  [[nodiscard]] std::string describe() const;
  [[nodiscard]] static const char* type_name(Type t) noexcept;

 private:
  friend class Parser;
  Type type_ = Type::Null;
  bool b_ = false;
  bool is_int_ = false;
  double num_ = 0;
  std::int64_t int_ = 0;
  std::string str_;  // string value, or the number's source text
  std::vector<Value> arr_;
  std::vector<std::pair<std::string, Value>> obj_;
};

/// Parses `text`; on error returns false and sets `error` ("line L, column C: ...").
[[nodiscard]] bool parse(std::string_view text, Value& out, std::string& error);

class Writer {
 public:
  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(std::string_view k);
  Writer& value(std::string_view s);
  Writer& value(const char* s) { return value(std::string_view(s)); }
  Writer& value(const std::string& s) { return value(std::string_view(s)); }
  Writer& value(double d);
  Writer& value(std::int64_t i);
  Writer& value(std::uint64_t u);
  Writer& value(int i) { return value(static_cast<std::int64_t>(i)); }
  Writer& value(unsigned u) { return value(static_cast<std::uint64_t>(u)); }
  Writer& value(bool b);
  Writer& null();
  template <class T>
  Writer& kv(std::string_view k, T&& v) {
    key(k);
    return value(std::forward<T>(v));
  }
  [[nodiscard]] const std::string& str() const noexcept { return out_; }
  [[nodiscard]] std::string& str() noexcept { return out_; }
  static void escape_into(std::string& out, std::string_view s);

 private:
  void sep();
  std::string out_;
  std::vector<bool> first_{true};
  bool after_key_ = false;
};

}  // namespace sf::json
