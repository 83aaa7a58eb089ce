// The file-system door (core/base/fs_root.h), with openat2 and with the
// portable walk: links inside the root work, links and ".." leaving it are
// PERMISSION_DENIED naming the link with nothing behind it opened (an
// inotify watch on the outside folder proves it), special files are refused
// by type without hanging, and a directory swapped for a symlink in a loop
// never makes a read land outside.
#include "core/base/fs_root.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace neobert::base {
namespace {
namespace fs = std::filesystem;

void WriteFile(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// Counts open/access events on files of one folder: the proof that nothing
// outside the root was opened (lstat and readlink raise no such event).
class OpenWatch {
 public:
  explicit OpenWatch(const fs::path& dir) {
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    ::inotify_add_watch(fd_, dir.c_str(), IN_OPEN | IN_ACCESS);
  }
  ~OpenWatch() { ::close(fd_); }
  int Events() {
    alignas(inotify_event) char buf[4096];
    int n = 0;
    for (;;) {
      const ssize_t r = ::read(fd_, buf, sizeof(buf));
      if (r <= 0) return n;
      for (char* p = buf; p < buf + r;) {
        auto* e = reinterpret_cast<inotify_event*>(p);
        ++n;
        p += sizeof(inotify_event) + e->len;
      }
    }
  }

 private:
  int fd_ = -1;
};

class FsRootTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    previous_ = ForcePortableWalkForTesting(GetParam());
    base_ = fs::temp_directory_path() /
            absl::StrCat("fs_root_test_", ::getpid(), "_", counter_++);
    fs::create_directories(base_ / "root");
    fs::create_directories(base_ / "outside");
    root_dir_ = (base_ / "root").string();
    outside_ = (base_ / "outside").string();
    WriteFile(base_ / "outside" / "secret", "the server's TLS key");
    ASSERT_EQ(::mkfifo((base_ / "outside" / "fifo").c_str(), 0600), 0);
    WriteFile(base_ / "root" / "runs" / "a" / "100" / "config.yaml", "model: {}\n");
    auto root = FsRoot::Open(root_dir_);
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = *root;
  }
  void TearDown() override {
    ForcePortableWalkForTesting(previous_);
    std::error_code ec;
    fs::remove_all(base_, ec);
  }
  std::string R(const std::string& rel) const { return root_dir_ + "/" + rel; }
  void Link(const std::string& target, const std::string& rel) {
    fs::create_directories(fs::path(R(rel)).parent_path());
    ASSERT_EQ(::symlink(target.c_str(), R(rel).c_str()), 0) << rel;
  }
  // The status is PERMISSION_DENIED and names `link`.
  static void ExpectDeniedNaming(const absl::Status& s, const std::string& link) {
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
    EXPECT_NE(s.message().find(link), std::string::npos) << s;
    EXPECT_EQ(s.message().find("TLS key"), std::string::npos) << s;
  }

  static inline int counter_ = 0;
  bool previous_ = false;
  fs::path base_;
  std::string root_dir_, outside_;
  FsRoot root_;
};

TEST_P(FsRootTest, ReadsRegularFilesBeneathTheRoot) {
  auto text = root_.ReadFile(R("runs/a/100/config.yaml"), 1024);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "model: {}\n");
  EXPECT_TRUE(root_.confined());
  EXPECT_EQ(root_.path(), fs::canonical(root_dir_).string());
  EXPECT_TRUE(root_.Contains(R("runs")));
  EXPECT_FALSE(root_.Contains(outside_));
  auto too_big = root_.ReadFile(R("runs/a/100/config.yaml"), 4);
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(root_.ReadFile(R("runs/a/100/missing"), 10).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(FsRootTest, FollowsLinksThatStayInside) {
  Link("100", "runs/a/latest");                         // relative, as trainers write it
  Link(R("runs/a/100"), "runs/a/absolute");             // absolute, still inside
  Link("../a/100/config.yaml", "runs/b/config.yaml");  // via ".." inside
  for (const char* p : {"runs/a/latest/config.yaml", "runs/a/absolute/config.yaml",
                        "runs/b/config.yaml"}) {
    bool via = false;
    auto text = root_.ReadFile(R(p), 1024, &via);
    ASSERT_TRUE(text.ok()) << p << ": " << text.status();
    EXPECT_EQ(*text, "model: {}\n") << p;
    EXPECT_TRUE(via) << p;
  }
  auto real = root_.RealPath(R("runs/a/latest"));
  ASSERT_TRUE(real.ok()) << real.status();
  EXPECT_EQ(*real, fs::canonical(R("runs/a/100")).string());
  bool via = true;
  ASSERT_TRUE(root_.ReadFile(R("runs/a/100/config.yaml"), 1024, &via).ok());
  EXPECT_FALSE(via);
}

TEST_P(FsRootTest, LinksLeavingTheRootAreDeniedWithoutOpeningTheTarget) {
  Link(outside_ + "/fifo", "ckpt/state_dict.pt");         // absolute, to a FIFO
  Link("../../outside/secret", "ckpt/config.yaml");       // relative
  Link(outside_, "ckpt/tokenizer");                       // a folder
  Link(outside_, "parent");                               // a parent of the path
  Link("../ckpt/../../outside/secret", "ckpt2/dotdot");   // ".." inside the target
  OpenWatch watch(outside_);
  const auto start = std::chrono::steady_clock::now();
  ExpectDeniedNaming(root_.OpenRegular(R("ckpt/state_dict.pt")).status(), R("ckpt/state_dict.pt"));
  ExpectDeniedNaming(root_.ReadFile(R("ckpt/config.yaml"), 1 << 20).status(), R("ckpt/config.yaml"));
  ExpectDeniedNaming(root_.ReadFile(R("ckpt/tokenizer/secret"), 1 << 20).status(),
                     R("ckpt/tokenizer"));
  ExpectDeniedNaming(root_.ListDirectory(R("ckpt/tokenizer"), 10).status(), R("ckpt/tokenizer"));
  ExpectDeniedNaming(root_.StatIfExists(R("parent/secret")).status(), R("parent"));
  ExpectDeniedNaming(root_.RealPath(R("parent")).status(), R("parent"));
  ExpectDeniedNaming(root_.RealPathAllowMissing(R("parent/new/dir")).status(), R("parent"));
  ExpectDeniedNaming(root_.ReadFile(R("ckpt2/dotdot"), 1 << 20).status(), R("ckpt2/dotdot"));
  // Writes through such a link are refused too, and nothing appears outside.
  ExpectDeniedNaming(root_.MakeDirectories(R("parent/new/dir")), R("parent"));
  ExpectDeniedNaming(root_.CreateFile(R("parent/file"), O_WRONLY, 0644).status(), R("parent"));
  ExpectDeniedNaming(root_.MakeDirectory(R("parent/x")), R("parent"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(watch.Events(), 0) << "something outside the root was opened";
  EXPECT_EQ(std::distance(fs::directory_iterator(outside_), fs::directory_iterator()), 2);
}

TEST_P(FsRootTest, DotDotAndForeignPathsAreDenied) {
  auto up = root_.ReadFile(R("runs/../../outside/secret"), 1 << 20);
  EXPECT_EQ(up.status().code(), absl::StatusCode::kPermissionDenied) << up.status();
  auto foreign = root_.ReadFile(outside_ + "/secret", 1 << 20);
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kPermissionDenied) << foreign.status();
  // ".." that stays inside is fine.
  EXPECT_TRUE(root_.ReadFile(R("runs/a/../a/100/config.yaml"), 1024).ok());
}

TEST_P(FsRootTest, SpecialFilesAreRefusedByTypeWithoutHanging) {
  ASSERT_EQ(::mkfifo(R("fifo").c_str(), 0600), 0);
  fs::create_directories(R("dir"));
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = R("sock");
  ASSERT_LT(sock_path.size(), sizeof(addr.sun_path));
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::symlink("/dev/zero", R("zero").c_str());
  const auto start = std::chrono::steady_clock::now();
  for (const auto& [name, type] : std::vector<std::pair<std::string, std::string>>{
           {"fifo", "FIFO"}, {"dir", "directory"}, {"sock", "socket"}}) {
    auto r = root_.ReadFile(R(name), 1 << 20);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << name << r.status();
    EXPECT_NE(r.status().message().find(R(name)), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find(type), std::string::npos) << r.status();
  }
  // /dev/zero is outside this root; unconfined it is a character device.
  EXPECT_EQ(root_.ReadFile(R("zero"), 1 << 20).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto zero = FsRoot::Unconfined().ReadFile(R("zero"), 1 << 20);
  EXPECT_NE(zero.status().message().find("character device"), std::string::npos) << zero.status();
  auto fifo = FsRoot::Unconfined().OpenRegular(R("fifo"));
  EXPECT_NE(fifo.status().message().find("FIFO"), std::string::npos) << fifo.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  ::close(sock);
}

TEST_P(FsRootTest, LoopsAndMissingThings) {
  Link("loop_b", "loop_a");
  Link("loop_a", "loop_b");
  EXPECT_EQ(root_.ReadFile(R("loop_a"), 10).status().code(), absl::StatusCode::kInvalidArgument);
  Link("nowhere", "dangling");
  auto st = root_.StatIfExists(R("dangling"));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_FALSE(st->has_value());
  auto missing = root_.RealPathAllowMissing(R("runs/a/latest_missing/../new/x"));
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(*missing, fs::canonical(R("runs/a")).string() + "/new/x");
}

TEST_P(FsRootTest, WritesStayBeneathTheRoot) {
  Link("runs", "runs_link");
  ASSERT_TRUE(root_.MakeDirectories(R("runs_link/out/x/y")).ok());
  EXPECT_TRUE(fs::is_directory(R("runs/out/x/y")));
  auto f = root_.CreateFile(R("runs/out/x/y/file"), O_WRONLY | O_EXCL, 0644);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(::write(f->get(), "abc", 3), 3);
  ASSERT_TRUE(root_.Rename(R("runs/out/x/y/file"), R("runs/out/file2"), RENAME_NOREPLACE).ok());
  EXPECT_TRUE(fs::exists(R("runs/out/file2")));
  Link(outside_, "runs/out/x/to_outside");
  auto over_link = root_.CreateFile(R("runs/out/x/to_outside"), O_WRONLY, 0644);
  EXPECT_EQ(over_link.status().code(), absl::StatusCode::kInvalidArgument) << over_link.status();
  // RemoveAll removes a link, never what it points to.
  ASSERT_TRUE(root_.RemoveAll(R("runs/out")).ok());
  EXPECT_FALSE(fs::exists(R("runs/out")));
  EXPECT_TRUE(fs::exists(outside_ + "/secret"));
  EXPECT_TRUE(root_.RemoveAll(R("runs/out")).ok());  // missing is fine
}

TEST_P(FsRootTest, ListsEntriesWithTheirOwnTypes) {
  Link("100", "runs/a/latest");
  auto entries = root_.ListDirectory(R("runs/a"), 10);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "100");
  EXPECT_EQ((*entries)[0].type, static_cast<mode_t>(S_IFDIR));
  EXPECT_EQ((*entries)[1].name, "latest");
  EXPECT_EQ((*entries)[1].type, static_cast<mode_t>(S_IFLNK));
  EXPECT_EQ(root_.ListDirectory(R("runs/a"), 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A directory swapped for a symlink to outside (renameat2 RENAME_EXCHANGE)
// as fast as a thread can, while another thread reads through it: every
// read either finds the inside file or is denied; the secret and the FIFO
// outside are never opened.
TEST_P(FsRootTest, RenameRaceNeverReadsOutside) {
  fs::create_directories(base_ / "outside" / "ckpt");
  WriteFile(base_ / "outside" / "ckpt" / "config.yaml", "the server's TLS key");
  WriteFile(R("runs/ckpt/config.yaml"), "inside\n");
  ASSERT_EQ(::symlink((base_ / "outside" / "ckpt").c_str(), R("runs/swap").c_str()), 0);
  OpenWatch watch((base_ / "outside" / "ckpt").string());
  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::thread racer([&] {
    while (!stop.load()) {
      if (::renameat2(AT_FDCWD, R("runs/ckpt").c_str(), AT_FDCWD, R("runs/swap").c_str(),
                      RENAME_EXCHANGE) == 0) {
        ++swaps;
      }
    }
  });
  int inside = 0, denied = 0;
  for (int i = 0; i < 3000; ++i) {
    auto text = root_.ReadFile(R("runs/ckpt/config.yaml"), 1024);
    if (text.ok()) {
      ASSERT_EQ(*text, "inside\n");
      ++inside;
    } else {
      EXPECT_EQ(text.status().message().find("TLS key"), std::string::npos);
      EXPECT_TRUE(absl::IsPermissionDenied(text.status()) || absl::IsNotFound(text.status()))
          << text.status();
      ++denied;
    }
  }
  stop.store(true);
  racer.join();
  EXPECT_GT(swaps.load(), 0);
  EXPECT_EQ(inside + denied, 3000);
  EXPECT_EQ(watch.Events(), 0) << "a read landed outside the root";
}

TEST(FsRootUnconfinedTest, FollowsEveryLinkButReadsOnlyRegularFiles) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("fs_root_unconfined_", ::getpid());
  fs::create_directories(dir / "a");
  WriteFile(dir / "a" / "f", "x");
  ::symlink((dir / "a" / "f").c_str(), (dir / "link").c_str());
  FsRoot root;
  EXPECT_FALSE(root.confined());
  EXPECT_EQ(root.path(), "/");
  EXPECT_TRUE(root.Contains("/anything"));
  auto text = root.ReadFile((dir / "link").string(), 10);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "x");
  auto d = root.ReadFile((dir / "a").string(), 10);
  EXPECT_NE(d.status().message().find("directory"), std::string::npos) << d.status();
  fs::remove_all(dir);
}

TEST(FsRootOpenTest, RootMustBeAnAbsoluteDirectory) {
  EXPECT_EQ(FsRoot::Open("relative").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FsRoot::Open("/nonexistent/root").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FsRoot::Open("/proc/self/status").status().code(), absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Resolution, FsRootTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? std::string("PortableWalk") : std::string("Openat2");
                         });

}  // namespace
}  // namespace neobert::base
