// Status: how every op below the N-API line reports bad input. No abort(), no
// assert() on user input: ops return a Status and csrc/napi/errors.cpp alone
// turns it into a JavaScript error.
#pragma once
#include <string>

namespace fuselm {

enum class Code : int {
  Ok = 0,
  Type = 1,         // wrong kind or dtype        -> TypeError
  Range = 2,        // wrong size or value         -> RangeError
  Unsupported = 3,  // valid input, not implemented -> Error
  Internal = 4,     // out of memory, device error  -> Error
};

struct Status {
  Code code = Code::Ok;
  std::string arg;       // the argument at fault, e.g. "k"
  std::string expected;  // e.g. "integer in [1, E=8]"
  std::string got;       // e.g. "9"
  std::string message;   // free text when arg/expected/got do not fit

  bool ok() const { return code == Code::Ok; }
  static Status Ok() { return {}; }
  static Status type(std::string arg, std::string expected, std::string got) {
    return {Code::Type, std::move(arg), std::move(expected), std::move(got), {}};
  }
  static Status range(std::string arg, std::string expected, std::string got) {
    return {Code::Range, std::move(arg), std::move(expected), std::move(got), {}};
  }
  static Status unsupported(std::string message) {
    return {Code::Unsupported, {}, {}, {}, std::move(message)};
  }
  static Status internal(std::string message) {
    return {Code::Internal, {}, {}, {}, std::move(message)};
  }
  // "Expected <expected> for <arg> but received <got>" (or the message)
  std::string what() const {
    if (!message.empty()) return message;
    return "Expected " + expected + " for " + arg + " but received " + got;
  }
};

#define FL_TRY(expr)                          \
  do {                                        \
    ::fuselm::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

}  // namespace fuselm
