// The HTTP listener for Prometheus: GET /metrics answers with the
// exposition text, anything else with 404. Runs on its own small thread pool,
// apart from gRPC, so a slow scraper never holds up an RPC.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace neobert::server {

class MetricsHttpServer {
 public:
  // Binds `listen` (HOST:PORT, [V6HOST]:PORT; port 0 picks a free one) and
  // starts serving `render()`'s text. Fails when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, std::function<std::string()> render);
  // Stops listening and waits for the serving thread.
  ~MetricsHttpServer();

  // HOST:PORT as bound (the real port when 0 was asked for).
  const std::string& address() const { return address_; }

 private:
  struct Impl;
  explicit MetricsHttpServer(std::unique_ptr<Impl> impl, std::string address);
  std::unique_ptr<Impl> impl_;
  std::string address_;
};

}  // namespace neobert::server
