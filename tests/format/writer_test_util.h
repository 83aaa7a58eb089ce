// Helpers shared by the writer tests: scratch directories, tensors over
// memory, SHA-256, and running the system Python (which has torch 1.13 and
// numpy) as an independent reader.
#pragma once

#include <openssl/evp.h>
#include <zlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "core/format/byte_source.h"
#include "core/format/tensor.h"

namespace neobert::format::testing {

inline constexpr const char* kSystemPython = "/usr/bin/python3";

// A fresh directory under the test temp dir, removed on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = std::filesystem::temp_directory_path() / "neobert_writer_XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

template <typename T>
std::vector<uint8_t> AsBytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// A contiguous tensor owning its bytes.
inline TensorEntry MemTensor(const std::string& name, DType dtype, std::vector<int64_t> shape,
                             std::vector<uint8_t> bytes) {
  TensorEntry t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.strides = ContiguousStrides(t.shape);
  const uint64_t n = bytes.size();
  t.storage =
      StorageRef{std::make_shared<MemorySource>(std::move(bytes), name), 0, n, name, std::nullopt, {}};
  return t;
}

inline std::string Sha256Hex(const std::vector<uint8_t>& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

// Reproducible pseudo-random bytes.
inline std::vector<uint8_t> RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// zlib's CRC-32 of `b`: the independent reference for ours.
inline uint32_t ZlibCrc(absl::Span<const uint8_t> b) {
  return static_cast<uint32_t>(crc32_z(0, b.data(), b.size()));
}

inline std::vector<uint8_t> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline bool HaveSystemPython() { return ::access(kSystemPython, X_OK) == 0; }

struct PythonResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `script` with the system Python from inside `dir` (so no file of the
// source tree can shadow a module), passing `args`.
inline PythonResult RunPython(const std::string& dir, const std::string& script,
                              const std::vector<std::string>& args) {
  const std::string script_path = dir + "/check.py";
  WriteFileBytes(script_path, script);
  std::string cmd = "cd '" + dir + "' && " + kSystemPython + " -I '" + script_path + "'";
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  PythonResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The last line of the output (scripts print their JSON result last).
inline std::string LastLine(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

}  // namespace neobert::format::testing
