// Core runtime info and thread control.
#include "check.h"
#include "info.h"

TEST(info_reports_versions) {
  const auto info = tennis::runtime_info();
  CHECK(!info.version.empty());
  CHECK(info.torch_version.rfind("1.", 0) == 0 || info.torch_version.rfind("2.", 0) == 0);
  CHECK(info.num_threads >= 1);
}

TEST(set_num_threads_validates) {
  CHECK_THROWS(tennis::set_num_threads(0), std::invalid_argument);
  tennis::set_num_threads(1);
  CHECK(tennis::runtime_info().num_threads == 1);
}
