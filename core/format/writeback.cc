#include "core/format/writeback.h"

#include <fcntl.h>
#include <unistd.h>

namespace neobert::format {

WritebackStarter::~WritebackStarter() {
  if (fd_ >= 0) ::close(fd_);
}

void WritebackStarter::Written(uint64_t position) {
  if (!enabled_ || position < started_ + kInterval) return;
  if (fd_ < 0) {
    // A read-only descriptor of our own: the writer's stays private to it.
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      enabled_ = false;
      return;
    }
  }
  // From a little before the last start (bytes then still in the writer's
  // buffer have become dirty since) to the end of the file (nbytes 0).
  constexpr uint64_t kSlack = 8 << 20;
  const uint64_t from = started_ > kSlack ? started_ - kSlack : 0;
  if (::sync_file_range(fd_, static_cast<off64_t>(from), 0, SYNC_FILE_RANGE_WRITE) != 0) {
    enabled_ = false;
    return;
  }
  started_ = position;
}

}  // namespace neobert::format
