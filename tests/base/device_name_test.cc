#include "core/base/device_name.h"

#include <gtest/gtest.h>

namespace neobert::base {
namespace {

TEST(DeviceName, AcceptsTheFourForms) {
  EXPECT_EQ(ParseDeviceName("auto")->kind, DeviceName::Kind::kAuto);
  EXPECT_EQ(ParseDeviceName("cpu")->kind, DeviceName::Kind::kCpu);
  EXPECT_EQ(ParseDeviceName("cuda")->ToString(), "cuda:0");
  EXPECT_EQ(ParseDeviceName("cuda:7")->cuda_index, 7);
  EXPECT_EQ(ParseDeviceName("cuda:127")->ToString(), "cuda:127");
}

TEST(DeviceName, RefusesEverythingElseNamingIt) {
  for (const char* bad : {"", "CPU", "gpu", "cuda:", "cuda:-1", "cuda:+1", "cuda: 1", "cuda:1 ",
                          "cuda:128", "cuda:0001", "cuda:1x", "cuda0"}) {
    auto d = ParseDeviceName(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(d.status().message().find("device '"), std::string::npos) << d.status();
  }
  // Error text quotes at most a short escaped excerpt of what it was given.
  auto long_name = ParseDeviceName(std::string(10000, 'x') + "\n");
  ASSERT_FALSE(long_name.ok());
  EXPECT_LT(long_name.status().message().size(), 200u);
}

}  // namespace
}  // namespace neobert::base
