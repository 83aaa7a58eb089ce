// engine::SetCpuThreads: applied to the BLAS LibTorch loaded (OpenBLAS's own
// pthreads pool here, which at::set_num_threads does not reach), before and
// after the engine is loaded; forward passes still work on one thread.
#include <dlfcn.h>

#include <thread>

#include "core/engine/engine.h"
#include "gtest/gtest.h"
#include "tests/engine/engine_test_util.h"

namespace neobert::engine {
namespace {

// OpenBLAS's thread count, or -1 when LibTorch did not load OpenBLAS.
int OpenBlasThreads() {
  void* blas = ::dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_NOLOAD);
  if (blas == nullptr) return -1;
  using GetThreads = int (*)();
  auto get = reinterpret_cast<GetThreads>(::dlsym(blas, "openblas_get_num_threads"));
  const int n = get != nullptr ? get() : -1;
  ::dlclose(blas);
  return n;
}

TEST(SetCpuThreads, ReachesTheBlasAndForwardStillWorks) {
  SetCpuThreads(1);  // possibly before the engine loads (the test order decides)
  ASSERT_TRUE(EngineAvailable().ok());
  if (OpenBlasThreads() < 0) GTEST_SKIP() << "this LibTorch does not use OpenBLAS";
  EXPECT_EQ(OpenBlasThreads(), 1);
  const testing::TinyModel m = testing::MakeTinyModel(testing::TinySpec());
  auto model = NeoBertModel::Create(m.spec, m.Entries(), {.device = "cpu"});
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(SanityCheck(**model, m.spec.vocab_size, m.spec.max_position_embeddings, 3).ok());

  SetCpuThreads(2);  // loaded now: applied at once
  EXPECT_EQ(OpenBlasThreads(), 2);
  SetCpuThreads(0);  // the default: one per core
  EXPECT_EQ(OpenBlasThreads(), static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace
}  // namespace neobert::engine
