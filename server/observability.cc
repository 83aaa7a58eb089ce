#include "server/observability.h"

#include <vector>

#include "core/base/status_macros.h"
#include "server/job_log.h"

namespace neobert::server {

namespace {

// Hands every job notification to each observer in turn.
class FanOut final : public JobObserver {
 public:
  explicit FanOut(std::vector<std::shared_ptr<JobObserver>> all) : all_(std::move(all)) {}
  void OnQueued(const JobSnapshot& j) override {
    for (auto& o : all_) o->OnQueued(j);
  }
  void OnStarted(const JobSnapshot& j) override {
    for (auto& o : all_) o->OnStarted(j);
  }
  void OnStage(const JobSnapshot& j, const std::string& m) override {
    for (auto& o : all_) o->OnStage(j, m);
  }
  void OnWarning(const JobSnapshot& j, const std::string& w) override {
    for (auto& o : all_) o->OnWarning(j, w);
  }
  void OnFinished(const JobSnapshot& j, JobState was, double s) override {
    for (auto& o : all_) o->OnFinished(j, was, s);
  }

 private:
  std::vector<std::shared_ptr<JobObserver>> all_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Observability>> Observability::Create(const ServerConfig& config) {
  auto o = std::unique_ptr<Observability>(new Observability());
  o->metrics_ = std::make_shared<ServerMetrics>();
  auto logger = std::make_shared<JobLogger>(config.log_format == "json" ? LogFormat::kJson
                                                                        : LogFormat::kText);
  o->observer_ = std::make_shared<FanOut>(std::vector<std::shared_ptr<JobObserver>>{logger, o->metrics_});
  if (!config.metrics_listen.empty()) {
    // The registry lives in metrics_, which outlives http_ (destroyed first,
    // as it is declared last).
    ServerMetrics* m = o->metrics_.get();
    ASSIGN_OR_RETURN(auto http,
                     MetricsHttpServer::Start(config.metrics_listen, [m] { return m->Expose(); }));
    o->http_ = std::move(http);
  }
  return o;
}

void Observability::AddTo(grpc::ServerBuilder& builder) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(metrics_->RpcInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(creators));
}

}  // namespace neobert::server
