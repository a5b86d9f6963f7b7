// Minimal test harness for the C++ core tests: TEST(name) registers a case, CHECK* record failures.
// The runner prints "N passed, N failed" so CI reads the result.
#pragma once
#include <cmath>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace check {

struct Case {
  const char* name;
  std::function<void()> fn;
};

inline std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

struct Failure {
  std::string message;
};

struct Registrar {
  Registrar(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

}  // namespace check

#define CHECK_CONCAT2(a, b) a##b
#define CHECK_CONCAT(a, b) CHECK_CONCAT2(a, b)
#define TEST(name)                                                      \
  static void name();                                                   \
  static check::Registrar CHECK_CONCAT(check_reg_, name)(#name, &name); \
  static void name()

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::ostringstream check_os;                                            \
      check_os << __FILE__ << ":" << __LINE__ << ": CHECK(" #cond ") failed"; \
      throw check::Failure{check_os.str()};                                   \
    }                                                                         \
  } while (0)

#define CHECK_MSG(cond, msg)                                  \
  do {                                                        \
    if (!(cond)) {                                            \
      std::ostringstream check_os;                            \
      check_os << __FILE__ << ":" << __LINE__ << ": " << msg; \
      throw check::Failure{check_os.str()};                   \
    }                                                         \
  } while (0)

#define CHECK_NEAR(a, b, tol)                          \
  CHECK_MSG(std::fabs(double(a) - double(b)) <= (tol), \
            "CHECK_NEAR(" #a ", " #b ") failed: " << (a) << " vs " << (b) << " tol " << (tol))

#define CHECK_THROWS(expr, ExcType)                               \
  do {                                                            \
    bool check_thrown = false;                                    \
    try {                                                         \
      expr;                                                       \
    } catch (const ExcType&) {                                    \
      check_thrown = true;                                        \
    }                                                             \
    CHECK_MSG(check_thrown, "expected " #ExcType " from " #expr); \
  } while (0)
