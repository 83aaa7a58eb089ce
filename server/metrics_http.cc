#include "server/metrics_http.h"

#include <chrono>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "server/metrics.h"

namespace neobert::server {

struct MetricsHttpServer::Impl {
  httplib::Server http;
  std::thread thread;
};

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<Impl> impl, std::string address)
    : impl_(std::move(impl)), address_(std::move(address)) {}

MetricsHttpServer::~MetricsHttpServer() {
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, std::function<std::string()> render) {
  const auto colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen '", listen, "': expected HOST:PORT"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen '", listen, "': expected HOST:PORT"));
  }

  auto impl = std::make_unique<Impl>();
  // Scrapes are rare and cheap: two threads are plenty.
  impl->http.new_task_queue = [] { return new httplib::ThreadPool(2); };
  impl->http.Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), metrics::kExpositionContentType);
  });
  int bound = port;
  if (port == 0) {
    bound = impl->http.bind_to_any_port(host);
    if (bound <= 0) bound = -1;
  } else if (!impl->http.bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound < 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, " for metrics"));
  }
  Impl* raw = impl.get();
  raw->thread = std::thread([raw] { raw->http.listen_after_bind(); });
  // stop() only works once the loop runs; wait for it so the destructor
  // can never miss it and hang on join.
  for (int i = 0; i < 5000 && !raw->http.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::unique_ptr<MetricsHttpServer>(
      new MetricsHttpServer(std::move(impl), absl::StrCat(shown, ":", bound)));
}

}  // namespace neobert::server
