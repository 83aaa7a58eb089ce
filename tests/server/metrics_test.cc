// The metrics registry against exact exposition text, the service metrics
// fed by a real JobManager, the job log lines, and the --metrics-listen flag.
#include "server/metrics.h"

#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/job_log.h"
#include "server/server_config.h"
#include "server/server_metrics.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
#include "tests/server/server_test_util.h"

namespace neobert::server {
namespace {

using metrics::Registry;

TEST(Metrics, CounterAndGaugeExposition) {
  Registry r;
  auto* c = r.AddCounter("t_requests_total", "Requests served.", {"method", "code"});
  auto* plain = r.AddCounter("t_plain_total", "No labels.");
  auto* g = r.AddGauge("t_temperature", "Degrees.\nSecond line \\ with backslash.");
  c->Add({"Get", "OK"});
  c->Add({"Get", "OK"}, 2);
  c->Add({"Cancel", "NOT_FOUND"}, 1);
  c->Add({"Get", "OK"}, -5);  // ignored: counters never go down
  g->Set({}, -1.5);
  EXPECT_EQ(r.Expose(),
            "# HELP t_requests_total Requests served.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{method=\"Cancel\",code=\"NOT_FOUND\"} 1\n"
            "t_requests_total{method=\"Get\",code=\"OK\"} 3\n"
            "# HELP t_plain_total No labels.\n"
            "# TYPE t_plain_total counter\n"
            "t_plain_total 0\n"
            "# HELP t_temperature Degrees.\\nSecond line \\\\ with backslash.\n"
            "# TYPE t_temperature gauge\n"
            "t_temperature -1.5\n");
  EXPECT_EQ(c->Value({"Get", "OK"}), 3);
  EXPECT_EQ(plain->Value({}), 0);
  g->Add({}, 4);
  EXPECT_EQ(g->Value({}), 2.5);
}

TEST(Metrics, LabelValuesAreEscaped) {
  Registry r;
  auto* c = r.AddCounter("t_paths_total", "Paths.", {"path"});
  c->Add({"a\"b\\c\nd"});
  EXPECT_EQ(r.Expose(),
            "# HELP t_paths_total Paths.\n"
            "# TYPE t_paths_total counter\n"
            "t_paths_total{path=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  auto* h = r.AddHistogram("t_seconds", "Durations.", {"kind"}, {0.5, 1, 2.5});
  h->Observe({"x"}, 0.25);
  h->Observe({"x"}, 1);    // on a bound: counted in that bucket (le means <=)
  h->Observe({"x"}, 1.5);
  h->Observe({"x"}, 100);  // above every bound: only +Inf
  h->Observe({"y"}, 0.5);
  EXPECT_EQ(r.Expose(),
            "# HELP t_seconds Durations.\n"
            "# TYPE t_seconds histogram\n"
            "t_seconds_bucket{kind=\"x\",le=\"0.5\"} 1\n"
            "t_seconds_bucket{kind=\"x\",le=\"1\"} 2\n"
            "t_seconds_bucket{kind=\"x\",le=\"2.5\"} 3\n"
            "t_seconds_bucket{kind=\"x\",le=\"+Inf\"} 4\n"
            "t_seconds_sum{kind=\"x\"} 102.75\n"
            "t_seconds_count{kind=\"x\"} 4\n"
            "t_seconds_bucket{kind=\"y\",le=\"0.5\"} 1\n"
            "t_seconds_bucket{kind=\"y\",le=\"1\"} 1\n"
            "t_seconds_bucket{kind=\"y\",le=\"2.5\"} 1\n"
            "t_seconds_bucket{kind=\"y\",le=\"+Inf\"} 1\n"
            "t_seconds_sum{kind=\"y\"} 0.5\n"
            "t_seconds_count{kind=\"y\"} 1\n");
  EXPECT_EQ(h->Count({"x"}), 4u);
  EXPECT_EQ(h->Sum({"x"}), 102.75);
  EXPECT_EQ(h->Count({"z"}), 0u);
}

TEST(Metrics, UnlabelledHistogramAndValueFormatting) {
  Registry r;
  auto* h = r.AddHistogram("t_mbps", "MB/s.", {}, {0.005, 10});
  h->Observe({}, 0.1);
  EXPECT_EQ(r.Expose(),
            "# HELP t_mbps MB/s.\n"
            "# TYPE t_mbps histogram\n"
            "t_mbps_bucket{le=\"0.005\"} 0\n"
            "t_mbps_bucket{le=\"10\"} 1\n"
            "t_mbps_bucket{le=\"+Inf\"} 1\n"
            "t_mbps_sum 0.1\n"
            "t_mbps_count 1\n");
  EXPECT_EQ(metrics::FormatValue(0.1), "0.1");
  EXPECT_EQ(metrics::FormatValue(3), "3");
  EXPECT_EQ(metrics::FormatValue(1e300 * 1e10), "+Inf");
  EXPECT_EQ(metrics::FormatValue(-1e300 * 1e10), "-Inf");
  EXPECT_EQ(metrics::FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(metrics::FormatValue(123456789), "123456789");
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry r;
  auto* c = r.AddCounter("t_hits_total", "Hits.", {"t"});
  auto* h = r.AddHistogram("t_obs", "Obs.", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        c->Add({t % 2 ? "odd" : "even"});
        h->Observe({}, 0.5);
        if (i % 1000 == 0) (void)r.Expose();  // scrapes while others write
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(c->Value({"odd"}), 40000);
  EXPECT_EQ(c->Value({"even"}), 40000);
  EXPECT_EQ(h->Count({}), 80000u);
}

TEST(MetricsDeathTest, BadNamesAndArityAbort) {
  EXPECT_DEATH(Registry().AddCounter("bad-name", "x"), "bad metric name");
  EXPECT_DEATH(Registry().AddCounter("ok", "x", {"9bad"}), "bad label name");
  EXPECT_DEATH(Registry().AddHistogram("h", "x", {"le"}, {1}), "bad label name");
  EXPECT_DEATH(Registry().AddHistogram("h", "x", {}, {2, 1}), "ascending");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounter("c", "x", {"a"})->Add({"1", "2"});
      },
      "label values");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounter("c", "x");
        r.AddGauge("c", "y");
      },
      "registered twice");
}

// --- the service metrics, fed by a real JobManager ---------------------------

// The sample value of `series` (a full "name{labels}" key) in `text`, or -1.
double Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// Captures spdlog's default logger's lines for the duration of a test.
class LogCapture {
 public:
  LogCapture() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern("%v");
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::vector<std::string> lines() const {
    std::vector<std::string> v;
    std::istringstream in(out_.str());
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Observes with both the metrics and the JSON logger, like the server does.
class Both final : public JobObserver {
 public:
  Both(std::shared_ptr<ServerMetrics> m, std::shared_ptr<JobLogger> l) : m_(m), l_(l) {}
  void OnQueued(const JobSnapshot& j) override { m_->OnQueued(j), l_->OnQueued(j); }
  void OnStarted(const JobSnapshot& j) override { m_->OnStarted(j), l_->OnStarted(j); }
  void OnStage(const JobSnapshot& j, const std::string& s) override { l_->OnStage(j, s); }
  void OnWarning(const JobSnapshot& j, const std::string& w) override { l_->OnWarning(j, w); }
  void OnFinished(const JobSnapshot& j, JobState was, double s) override {
    m_->OnFinished(j, was, s), l_->OnFinished(j, was, s);
  }

 private:
  std::shared_ptr<ServerMetrics> m_;
  std::shared_ptr<JobLogger> l_;
};

TEST(ServerMetrics, JobLifecycleMovesGaugesCountersAndHistograms) {
  LogCapture capture;
  auto sm = std::make_shared<ServerMetrics>();
  auto exec = std::make_unique<testing::ManualExecutor>();
  testing::ManualExecutor* ex = exec.get();
  JobManagerOptions o;
  o.executor = std::move(exec);
  o.observer = std::make_shared<Both>(sm, std::make_shared<JobLogger>(LogFormat::kJson));
  int calls = 0;
  o.runner = [&calls](const JobSpec& spec, JobProgress& sink,
                      const base::CancelToken&) -> absl::StatusOr<core::ExportResult> {
    if (++calls == 2) return absl::InvalidArgumentError("config.yaml: bad (test)");
    sink.OnStage("write", "writing", 0);
    sink.OnWarning("vocab mismatch (test)");
    core::ExportResult r;
    r.output_dir = spec.export_options()->output_dir;
    r.files = {{"config.json", 1000, ""}, {"model.safetensors", 2'000'000, ""}};
    r.sanity_device = "cpu";
    r.sanity_seconds = 0.2;
    return r;
  };
  auto jobs = JobManager::Create(std::move(o));
  ASSERT_TRUE(jobs.ok());

  const std::string before = sm->Expose();
  EXPECT_EQ(Sample(before, "neobert_export_queue_depth"), 0);
  EXPECT_EQ(Sample(before, "neobert_export_jobs{state=\"queued\"}"), 0);
  EXPECT_EQ(Sample(before, "neobert_export_jobs_total{kind=\"export\",state=\"succeeded\"}"), 0);

  auto a = (*jobs)->Submit(testing::ExportSpec("/in/a", "/out/a"));
  auto b = (*jobs)->Submit(testing::ExportSpec("/in/b", "/out/b"));
  auto c = (*jobs)->Submit(testing::ExportSpec("/in/c", "/out/c"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  std::string text = sm->Expose();
  EXPECT_EQ(Sample(text, "neobert_export_queue_depth"), 3);
  EXPECT_EQ(Sample(text, "neobert_export_jobs{state=\"queued\"}"), 3);
  ASSERT_TRUE((*jobs)->Cancel(c->id).ok());  // cancelled while queued
  ex->RunAll();                              // a succeeds, b fails

  text = sm->Expose();
  EXPECT_EQ(Sample(text, "neobert_export_queue_depth"), 0);
  EXPECT_EQ(Sample(text, "neobert_export_jobs{state=\"queued\"}"), 0);
  EXPECT_EQ(Sample(text, "neobert_export_jobs{state=\"running\"}"), 0);
  EXPECT_EQ(Sample(text, "neobert_export_jobs_total{kind=\"export\",state=\"succeeded\"}"), 1);
  EXPECT_EQ(Sample(text, "neobert_export_jobs_total{kind=\"export\",state=\"failed\"}"), 1);
  EXPECT_EQ(Sample(text, "neobert_export_jobs_total{kind=\"export\",state=\"cancelled\"}"), 1);
  // The queued-cancelled job never ran: no duration for it.
  EXPECT_EQ(Sample(text, "neobert_export_export_duration_seconds_count{state=\"succeeded\"}"), 1);
  EXPECT_EQ(Sample(text, "neobert_export_export_duration_seconds_count{state=\"failed\"}"), 1);
  EXPECT_EQ(Sample(text, "neobert_export_export_duration_seconds_count{state=\"cancelled\"}"), -1);
  EXPECT_EQ(Sample(text, "neobert_export_bytes_written_total"), 2'001'000);
  EXPECT_EQ(Sample(text, "neobert_export_export_throughput_mb_per_second_count"), 1);
  EXPECT_GT(Sample(text, "neobert_export_last_export_throughput_mb_per_second"), 0);
  EXPECT_EQ(Sample(text, "neobert_export_sanity_seconds_count{device=\"cpu\"}"), 1);
  EXPECT_DOUBLE_EQ(Sample(text, "neobert_export_sanity_seconds_sum{device=\"cpu\"}"), 0.2);

  // Logs: every line names its job and checkpoint; one summary per job.
  std::map<std::string, int> summaries;
  int lines = 0;
  for (const auto& l : capture.lines()) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << l;
    ASSERT_TRUE(j.contains("job_id") && j.contains("checkpoint")) << l;
    const std::string id = j["job_id"];
    const std::string expect_ckpt = id == a->id ? "/in/a" : id == b->id ? "/in/b" : "/in/c";
    EXPECT_EQ(j["checkpoint"], expect_ckpt) << l;
    if (j.value("summary", false)) {
      ++summaries[id];
      if (id == a->id) {
        EXPECT_EQ(j["state"], "succeeded");
        EXPECT_EQ(j["bytes"], 2'001'000);
        EXPECT_EQ(j["device"], "cpu");
        EXPECT_EQ(j["level"], "info");
      } else if (id == b->id) {
        EXPECT_EQ(j["state"], "failed");
        EXPECT_EQ(j["error"], "config.yaml: bad (test)");
        EXPECT_EQ(j["level"], "error");
      } else {
        EXPECT_EQ(j["state"], "cancelled");
        EXPECT_EQ(j["bytes"], 0);
      }
    }
    ++lines;
  }
  EXPECT_GE(lines, 8);  // 3 queued, 2 started, stage, warning, 3 summaries
  EXPECT_EQ(summaries, (std::map<std::string, int>{{a->id, 1}, {b->id, 1}, {c->id, 1}}));
}

TEST(ServerMetrics, RpcsByMethodAndCode) {
  ServerMetrics sm;
  sm.OnRpc("/neobert.exporter.v1.ExportService/GetJob", grpc::StatusCode::OK);
  sm.OnRpc("/neobert.exporter.v1.ExportService/GetJob", grpc::StatusCode::NOT_FOUND);
  sm.OnRpc("/neobert.exporter.v1.ExportService/GetJob", grpc::StatusCode::NOT_FOUND);
  const std::string text = sm.Expose();
  EXPECT_EQ(Sample(text, "neobert_export_rpcs_total{method=\"neobert.exporter.v1.ExportService/"
                         "GetJob\",code=\"OK\"}"),
            1);
  EXPECT_EQ(Sample(text, "neobert_export_rpcs_total{method=\"neobert.exporter.v1.ExportService/"
                         "GetJob\",code=\"NOT_FOUND\"}"),
            2);
}

TEST(JobLog, TextModePrefixesIdAndCheckpoint) {
  LogCapture capture;
  JobLogger log(LogFormat::kText);
  JobSnapshot s;
  s.id = "job-1";
  s.spec = testing::ExportSpec("/ckpt/step 7", "/out/x");
  s.state = JobState::kFailed;
  s.error = absl::NotFoundError("no weights");
  log.OnStarted(s);
  log.OnFinished(s, JobState::kRunning, 1.5);
  auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "[job-1 ckpt=/ckpt/step 7] started");
  EXPECT_EQ(lines[1],
            "[job-1 ckpt=/ckpt/step 7] finished: FAILED export in 1.500 s error=\"no weights\"");
}

TEST(ServerConfig, MetricsListenFlag) {
  auto c = ParseServerFlags({"--input-root", "/a", "--output-root", "/b"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->metrics_listen, "");  // off by default
  c = ParseServerFlags({"--input-root", "/a", "--output-root", "/b", "--metrics-listen",
                        "127.0.0.1:0"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->metrics_listen, "127.0.0.1:0");
  c = ParseServerFlags({"--input-root", "/a", "--output-root", "/b", "--metrics-listen=:9"});
  EXPECT_FALSE(c.ok());
  c = ParseServerFlags({"--input-root", "/a", "--output-root", "/b", "--metrics-listen", "nohost"});
  EXPECT_FALSE(c.ok());
  EXPECT_NE(std::string(kServerUsage).find("--metrics-listen"), std::string::npos);
}

}  // namespace
}  // namespace neobert::server
