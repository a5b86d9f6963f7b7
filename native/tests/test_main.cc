// Runs every registered core test (optionally only those whose name contains argv[1]).
#include <cstring>

#include "check.h"

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  for (const auto& test : check::registry()) {
    if (filter && !std::strstr(test.name, filter)) continue;
    try {
      test.fn();
      ++passed;
      std::cout << "ok   " << test.name << "\n";
    } catch (const check::Failure& f) {
      ++failed;
      std::cout << "FAIL " << test.name << "\n     " << f.message << "\n";
    } catch (const std::exception& e) {
      ++failed;
      std::cout << "FAIL " << test.name << "\n     unexpected exception: " << e.what() << "\n";
    }
  }
  std::cout << "cpp: " << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
