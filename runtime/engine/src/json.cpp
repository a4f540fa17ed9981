#include "sf/json.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace sf::json {

const char* Value::type_name(Type t) noexcept {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "boolean";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "?";
}

std::string Value::describe() const {
  switch (type_) {
    case Type::Null: return "null";
    case Type::Bool: return b_ ? "true" : "false";
    case Type::Number: return str_;
    case Type::String: {
      std::string s = "\"";
      s += str_.size() > 60 ? str_.substr(0, 60) + "..." : str_;
      return s + "\"";
    }
    case Type::Array: return "an array";
    case Type::Object: return "an object";
  }
  return "?";
}

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}
  bool run(Value& out, std::string& err) {
    ws();
    if (!value(out, 0)) {
      err = error();
      return false;
    }
    ws();
    if (p_ != t_.size()) {
      msg_ = "unexpected trailing characters";
      err = error();
      return false;
    }
    return true;
  }

 private:
  std::string error() const {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < p_ && i < t_.size(); ++i) {
      if (t_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col) + ": " + msg_;
  }
  bool fail(const char* m) {
    msg_ = m;
    return false;
  }
  void ws() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\t' || t_[p_] == '\n' || t_[p_] == '\r')) ++p_;
  }
  bool lit(std::string_view w) {
    if (t_.substr(p_, w.size()) != w) return fail("invalid literal");
    p_ += w.size();
    return true;
  }
  bool value(Value& v, int depth) {
    if (depth > 64) return fail("nesting deeper than 64");
    if (p_ >= t_.size()) return fail("unexpected end of input");
    const char c = t_[p_];
    if (c == '{') return object(v, depth);
    if (c == '[') return array(v, depth);
    if (c == '"') {
      v.type_ = Value::Type::String;
      return string(v.str_);
    }
    if (c == 't') {
      v.type_ = Value::Type::Bool;
      v.b_ = true;
      return lit("true");
    }
    if (c == 'f') {
      v.type_ = Value::Type::Bool;
      v.b_ = false;
      return lit("false");
    }
    if (c == 'n') {
      v.type_ = Value::Type::Null;
      return lit("null");
    }
    return number(v);
  }
  bool number(Value& v) {
    const std::size_t s = p_;
    bool is_int = true;
    if (p_ < t_.size() && t_[p_] == '-') ++p_;
    if (p_ >= t_.size() || !std::isdigit(static_cast<unsigned char>(t_[p_]))) return fail("invalid value");
    if (t_[p_] == '0') {
      ++p_;
    } else {
      while (p_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[p_]))) ++p_;
    }
    if (p_ < t_.size() && t_[p_] == '.') {
      is_int = false;
      ++p_;
      if (p_ >= t_.size() || !std::isdigit(static_cast<unsigned char>(t_[p_]))) return fail("invalid number");
      while (p_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[p_]))) ++p_;
    }
    if (p_ < t_.size() && (t_[p_] == 'e' || t_[p_] == 'E')) {
      is_int = false;
      ++p_;
      if (p_ < t_.size() && (t_[p_] == '+' || t_[p_] == '-')) ++p_;
      if (p_ >= t_.size() || !std::isdigit(static_cast<unsigned char>(t_[p_]))) return fail("invalid number");
      while (p_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[p_]))) ++p_;
    }
    v.type_ = Value::Type::Number;
    v.str_ = std::string(t_.substr(s, p_ - s));
    v.num_ = std::strtod(v.str_.c_str(), nullptr);
    if (is_int) {
      const auto r = std::from_chars(v.str_.data(), v.str_.data() + v.str_.size(), v.int_);
      v.is_int_ = r.ec == std::errc();
    }
    return true;
  }
  static void utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool hex4(unsigned& cp) {
    if (p_ + 4 > t_.size()) return fail("truncated \\u escape");
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = t_[p_++];
      cp <<= 4;
      if (h >= '0' && h <= '9') cp |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') cp |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') cp |= static_cast<unsigned>(h - 'A' + 10);
      else return fail("invalid \\u escape");
    }
    return true;
  }
  bool string(std::string& out) {
    ++p_;  // opening quote
    out.clear();
    while (true) {
      if (p_ >= t_.size()) return fail("unterminated string");
      const char c = t_[p_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p_ >= t_.size()) return fail("unterminated string");
      const char e = t_[p_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {
            unsigned lo;
            if (p_ + 2 > t_.size() || t_[p_] != '\\' || t_[p_ + 1] != 'u') return fail("lone surrogate in \\u escape");
            p_ += 2;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return fail("invalid surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          utf8(out, cp);
          break;
        }
        default: return fail("invalid escape in string");
      }
    }
  }
  bool array(Value& v, int depth) {
    v.type_ = Value::Type::Array;
    ++p_;
    ws();
    if (p_ < t_.size() && t_[p_] == ']') {
      ++p_;
      return true;
    }
    while (true) {
      ws();
      v.arr_.emplace_back();
      if (!value(v.arr_.back(), depth + 1)) return false;
      ws();
      if (p_ >= t_.size()) return fail("unterminated array");
      if (t_[p_] == ',') {
        ++p_;
        continue;
      }
      if (t_[p_] == ']') {
        ++p_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }
  bool object(Value& v, int depth) {
    v.type_ = Value::Type::Object;
    ++p_;
    ws();
    if (p_ < t_.size() && t_[p_] == '}') {
      ++p_;
      return true;
    }
    while (true) {
      ws();
      if (p_ >= t_.size() || t_[p_] != '"') return fail("expected a string key");
      std::string k;
      const std::size_t key_pos = p_;
      if (!string(k)) return false;
      for (const auto& m : v.obj_)
        if (m.first == k) {
          p_ = key_pos;
          dup_ = "duplicate key \"" + k + "\"";
          msg_ = dup_.c_str();
          return false;
        }
      ws();
      if (p_ >= t_.size() || t_[p_] != ':') return fail("expected ':'");
      ++p_;
      ws();
      v.obj_.emplace_back(std::move(k), Value{});
      if (!value(v.obj_.back().second, depth + 1)) return false;
      ws();
      if (p_ >= t_.size()) return fail("unterminated object");
      if (t_[p_] == ',') {
        ++p_;
        continue;
      }
      if (t_[p_] == '}') {
        ++p_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  std::string_view t_;
  std::size_t p_ = 0;
  const char* msg_ = "";
  std::string dup_;
};

bool parse(std::string_view text, Value& out, std::string& error) {
  out = Value{};
  Parser p(text);
  return p.run(out, error);
}

// --- Writer ---------------------------------------------------------------------------------

void Writer::escape_into(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += b;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void Writer::sep() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.back()) out_ += ',';
  first_.back() = false;
}
Writer& Writer::begin_object() {
  sep();
  out_ += '{';
  first_.push_back(true);
  return *this;
}
Writer& Writer::end_object() {
  first_.pop_back();
  out_ += '}';
  return *this;
}
Writer& Writer::begin_array() {
  sep();
  out_ += '[';
  first_.push_back(true);
  return *this;
}
Writer& Writer::end_array() {
  first_.pop_back();
  out_ += ']';
  return *this;
}
Writer& Writer::key(std::string_view k) {
  sep();
  escape_into(out_, k);
  out_ += ':';
  after_key_ = true;
  return *this;
}
Writer& Writer::value(std::string_view s) {
  sep();
  escape_into(out_, s);
  return *this;
}
Writer& Writer::value(double d) {
  sep();
  if (!std::isfinite(d)) {
    out_ += "null";
    return *this;
  }
  char b[32];
  const auto r = std::to_chars(b, b + sizeof b, d);
  out_.append(b, r.ptr);
  return *this;
}
Writer& Writer::value(std::int64_t i) {
  sep();
  out_ += std::to_string(i);
  return *this;
}
Writer& Writer::value(std::uint64_t u) {
  sep();
  out_ += std::to_string(u);
  return *this;
}
Writer& Writer::value(bool b) {
  sep();
  out_ += b ? "true" : "false";
  return *this;
}
Writer& Writer::null() {
  sep();
  out_ += "null";
  return *this;
}

}  // namespace sf::json
