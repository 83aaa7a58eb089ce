// Early writeback for files that will be fsynced when complete.
//
// Without it, a freshly written weight file sits dirty in the page cache (it
// is far below the kernel's background-writeback threshold) until the final
// fsync, so the disk idles while we copy and then the fsync waits for the
// whole file: time = CPU + disk. Asking the kernel to start writing every
// few tens of MiB (sync_file_range SYNC_FILE_RANGE_WRITE, which does not wait
// for completion) overlaps the two: time ~ max(CPU, disk). It is only a
// hint; durability still comes from the caller's fsync.
#pragma once

#include <cstdint>
#include <string>

namespace neobert::format {

class WritebackStarter {
 public:
  // Does nothing unless `enabled` (the caller will fsync `path`).
  WritebackStarter(std::string path, bool enabled) : path_(std::move(path)), enabled_(enabled) {}
  ~WritebackStarter();
  WritebackStarter(const WritebackStarter&) = delete;
  WritebackStarter& operator=(const WritebackStarter&) = delete;

  // The file now holds `position` bytes (flushed or still buffered): starts
  // writeback of what was written since the last start, once that is at least
  // kInterval bytes. Errors are ignored (a failed hint costs nothing).
  void Written(uint64_t position);

  static constexpr uint64_t kInterval = 32 << 20;

 private:
  std::string path_;
  bool enabled_;
  int fd_ = -1;
  uint64_t started_ = 0;  // writeback requested for [0, started_)
};

}  // namespace neobert::format
