// The gRPC service in-process on a loopback port-0 server, with the real
// exporter on a generated fixture checkpoint.
#include <filesystem>
#include <fstream>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/export_service_impl.h"
#include "server/job_roots.h"
#include "tests/server/server_test_util.h"

namespace neobert::server {
namespace {
namespace fs = std::filesystem;

struct ServerOptions {
  std::string token;
  int capacity = 16;
  bool manual = false;  // jobs never run unless the test runs them
};

class TestServer {
 public:
  TestServer(const std::string& root, ServerOptions o) {
    JobManagerOptions jm;
    jm.queue_capacity = o.capacity;
    if (o.manual) {
      auto m = std::make_unique<testing::ManualExecutor>();
      manual_ = m.get();
      jm.executor = std::move(m);
    } else {
      jm.executor = std::make_unique<ThreadPoolExecutor>(1);
    }
    auto policy = PathPolicy::Create({root + "/in"}, {root + "/out"});
    EXPECT_TRUE(policy.ok()) << policy.status();
    jm.runner = ConfinedJobRunner(*policy);  // as neobert-exportd runs jobs
    jobs_ = std::move(*JobManager::Create(std::move(jm)));
    ServiceOptions so;
    if (!o.token.empty()) so.tokens = BearerTokens::Fixed({o.token});
    so.sync = false;
    service_ = std::make_unique<ExportServiceImpl>(jobs_.get(), *policy, so);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                   grpc::InsecureChannelCredentials());
    stub_ = pb::ExportService::NewStub(channel_);
  }
  ~TestServer() {
    jobs_->StopAccepting();
    jobs_->CancelAll();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    jobs_.reset();
  }
  pb::ExportService::Stub& stub() { return *stub_; }
  grpc::Channel& channel() { return *channel_; }
  grpc::Server& server() { return *server_; }
  testing::ManualExecutor* manual() { return manual_; }
  int port() const { return port_; }

 private:
  int port_ = 0;
  testing::ManualExecutor* manual_ = nullptr;
  std::unique_ptr<JobManager> jobs_;
  std::unique_ptr<ExportServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::ExportService::Stub> stub_;
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string fixtures = testing::FixturesDir();
    ASSERT_FALSE(fixtures.empty()) << "no fixtures: set NEOBERT_FIXTURES or run through ctest (fixture neobert_fixtures)";
    root_ = testing::MakeTempDir("service");
    fs::create_directories(root_ + "/in");
    fs::create_directories(root_ + "/out");
    fs::copy(fixtures + "/fp32_swiglu_rope_rms", root_ + "/in/ckpt", fs::copy_options::recursive);
    ckpt_ = root_ + "/in/ckpt";
  }
  void TearDown() override { fs::remove_all(root_); }

  pb::ExportRequest Request(const std::string& out) {
    pb::ExportRequest r;
    r.set_checkpoint_dir(ckpt_);
    r.set_output_dir(out);
    return r;
  }

  // Reads a whole event stream; returns the RPC status.
  template <typename Reader>
  static grpc::Status ReadAll(Reader& reader, std::vector<pb::JobEvent>* events) {
    pb::JobEvent e;
    while (reader->Read(&e)) events->push_back(e);
    return reader->Finish();
  }

  std::string root_, ckpt_;
};

TEST_F(ServiceTest, ExportStreamsToSuccessThenValidate) {
  TestServer s(root_, {});
  grpc::ClientContext ctx;
  auto reader = s.stub().ExportCheckpoint(&ctx, Request(root_ + "/out/e1"));
  std::vector<pb::JobEvent> events;
  ASSERT_TRUE(ReadAll(reader, &events).ok());
  ASSERT_GE(events.size(), 3u);
  // The first event is a snapshot: the worker may already have the job.
  EXPECT_TRUE(events.front().state() == pb::QUEUED || events.front().state() == pb::RUNNING);
  const auto& last = events.back();
  ASSERT_EQ(last.state(), pb::SUCCEEDED) << last.error().message();
  ASSERT_TRUE(last.has_result());
  bool saw_write = false;
  for (const auto& e : events) saw_write |= e.stage() == "write";
  EXPECT_TRUE(saw_write);
  const auto& r = last.result();
  EXPECT_EQ(r.output_dir(), fs::canonical(root_ + "/out").string() + "/e1");
  ASSERT_GT(r.files_size(), 3);
  for (const auto& f : r.files()) {
    EXPECT_EQ(fs::file_size(r.output_dir() + "/" + f.name()), f.size()) << f.name();
    EXPECT_EQ(f.sha256().size(), 64u);
  }

  grpc::ClientContext vctx;
  pb::ValidateRequest vreq;
  vreq.set_export_dir(root_ + "/out/e1");
  auto vreader = s.stub().ValidateExport(&vctx, vreq);
  std::vector<pb::JobEvent> vevents;
  ASSERT_TRUE(ReadAll(vreader, &vevents).ok());
  ASSERT_EQ(vevents.back().state(), pb::SUCCEEDED) << vevents.back().error().message();

  // Corrupt one file: the report fails, naming it; the job (and the RPC)
  // succeed: a failed validation is a report, not an error.
  { std::ofstream(r.output_dir() + "/config.json", std::ios::app) << " "; }
  grpc::ClientContext v2;
  auto v2reader = s.stub().ValidateExport(&v2, vreq);
  std::vector<pb::JobEvent> v2events;
  ASSERT_TRUE(ReadAll(v2reader, &v2events).ok());
  const pb::JobEvent& report = v2events.back();
  EXPECT_EQ(report.state(), pb::SUCCEEDED);
  EXPECT_FALSE(report.has_error());
  ASSERT_TRUE(report.result().has_passed());
  EXPECT_FALSE(report.result().passed());
  bool manifest_failed = false;
  for (const auto& c : report.result().checks()) {
    if (c.name() == "manifest" && !c.passed()) {
      manifest_failed = c.detail().find("config.json") != std::string::npos;
    }
  }
  EXPECT_TRUE(manifest_failed) << report.result().DebugString();
}

TEST_F(ServiceTest, SubmitWatchGetListCancel) {
  TestServer s(root_, {});
  pb::Job job;
  {
    grpc::ClientContext ctx;
    auto req = Request(root_ + "/out/e2");
    req.set_idempotency_key("k-2");
    ASSERT_TRUE(s.stub().SubmitExport(&ctx, req, &job).ok());
    EXPECT_FALSE(job.job_id().empty());
    EXPECT_EQ(job.kind(), pb::EXPORT);
    EXPECT_EQ(job.idempotency_key(), "k-2");
  }
  {
    // Same key: same job.
    grpc::ClientContext ctx;
    auto req = Request(root_ + "/out/e2");
    req.set_idempotency_key("k-2");
    pb::Job again;
    ASSERT_TRUE(s.stub().SubmitExport(&ctx, req, &again).ok());
    EXPECT_EQ(again.job_id(), job.job_id());
  }
  {
    grpc::ClientContext ctx;
    pb::WatchJobRequest w;
    w.set_job_id(job.job_id());
    auto reader = s.stub().WatchJob(&ctx, w);
    std::vector<pb::JobEvent> events;
    ASSERT_TRUE(ReadAll(reader, &events).ok());
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().state(), pb::SUCCEEDED) << events.back().error().message();
  }
  {
    grpc::ClientContext ctx;
    pb::GetJobRequest g;
    g.set_job_id(job.job_id());
    pb::Job got;
    ASSERT_TRUE(s.stub().GetJob(&ctx, g, &got).ok());
    EXPECT_EQ(got.state(), pb::SUCCEEDED);
    EXPECT_TRUE(fs::exists(got.result().output_dir() + "/config.json"));
  }
  {
    grpc::ClientContext ctx;
    pb::ListJobsRequest l;
    l.set_state(pb::SUCCEEDED);
    l.set_checkpoint_contains("/in/ckpt");
    pb::ListJobsResponse resp;
    ASSERT_TRUE(s.stub().ListJobs(&ctx, l, &resp).ok());
    ASSERT_EQ(resp.jobs_size(), 1);
    EXPECT_EQ(resp.jobs(0).job_id(), job.job_id());
    grpc::ClientContext ctx2;
    l.set_state(pb::FAILED);
    ASSERT_TRUE(s.stub().ListJobs(&ctx2, l, &resp).ok());
    EXPECT_EQ(resp.jobs_size(), 0);
  }
  {
    grpc::ClientContext ctx;
    pb::CancelJobRequest c;
    c.set_job_id(job.job_id());
    pb::Job out;
    EXPECT_EQ(s.stub().CancelJob(&ctx, c, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  for (int rpc = 0; rpc < 3; ++rpc) {
    grpc::ClientContext ctx;
    pb::Job out;
    grpc::Status st;
    if (rpc == 0) {
      pb::GetJobRequest g;
      g.set_job_id("job-missing");
      st = s.stub().GetJob(&ctx, g, &out);
    } else if (rpc == 1) {
      pb::CancelJobRequest c;
      c.set_job_id("job-missing");
      st = s.stub().CancelJob(&ctx, c, &out);
    } else {
      pb::WatchJobRequest w;
      w.set_job_id("job-missing");
      auto reader = s.stub().WatchJob(&ctx, w);
      std::vector<pb::JobEvent> ev;
      st = ReadAll(reader, &ev);
    }
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << rpc;
  }
}

TEST_F(ServiceTest, PathPolicyIsPermissionDenied) {
  fs::create_directories(root_ + "/elsewhere");
  fs::copy(ckpt_, root_ + "/elsewhere/ckpt", fs::copy_options::recursive);
  TestServer s(root_, {});
  {
    grpc::ClientContext ctx;
    pb::Job job;
    auto st = s.stub().SubmitExport(&ctx, Request(root_ + "/elsewhere/out"), &job);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  }
  {
    grpc::ClientContext ctx;
    pb::Job job;
    auto req = Request(root_ + "/out/x");
    req.set_checkpoint_dir(root_ + "/in/../elsewhere/ckpt");
    EXPECT_EQ(s.stub().SubmitExport(&ctx, req, &job).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    auto reader = s.stub().ExportCheckpoint(&ctx, Request("relative/out"));
    std::vector<pb::JobEvent> ev;
    EXPECT_EQ(ReadAll(reader, &ev).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(ev.empty());
  }
  {
    grpc::ClientContext ctx;
    pb::Job job;
    auto req = Request(root_ + "/out/x");
    req.set_checkpoint_dir(root_ + "/in/missing");
    EXPECT_EQ(s.stub().SubmitExport(&ctx, req, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_FALSE(fs::exists(root_ + "/elsewhere/out"));
}

TEST_F(ServiceTest, TokenRequired) {
  TestServer s(root_, {.token = "t0ken"});
  pb::ListJobsRequest l;
  pb::ListJobsResponse resp;
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(s.stub().ListJobs(&ctx, l, &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer wrong");
    EXPECT_EQ(s.stub().ListJobs(&ctx, l, &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer wrong");
    auto reader = s.stub().ExportCheckpoint(&ctx, Request(root_ + "/out/x"));
    std::vector<pb::JobEvent> ev;
    EXPECT_EQ(ReadAll(reader, &ev).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer t0ken");
    EXPECT_TRUE(s.stub().ListJobs(&ctx, l, &resp).ok());
  }
  EXPECT_FALSE(fs::exists(root_ + "/out/x"));
}

TEST_F(ServiceTest, FullQueueIsResourceExhaustedAndCancelQueued) {
  TestServer s(root_, {.token = "", .capacity = 1, .manual = true});
  pb::Job first;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(s.stub().SubmitExport(&ctx, Request(root_ + "/out/a"), &first).ok());
    EXPECT_EQ(first.state(), pb::QUEUED);
  }
  {
    grpc::ClientContext ctx;
    pb::Job second;
    auto st = s.stub().SubmitExport(&ctx, Request(root_ + "/out/b"), &second);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  }
  {
    grpc::ClientContext ctx;
    pb::CancelJobRequest c;
    c.set_job_id(first.job_id());
    pb::Job out;
    ASSERT_TRUE(s.stub().CancelJob(&ctx, c, &out).ok());
    EXPECT_EQ(out.state(), pb::CANCELLED);
  }
  s.manual()->RunAll();  // the cancelled job's task does nothing
  EXPECT_FALSE(fs::exists(root_ + "/out/a"));
}

TEST_F(ServiceTest, HealthServing) {
  TestServer s(root_, {});
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(s.port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  s.server().GetHealthCheckService()->SetServingStatus(false);
  grpc::ClientContext ctx2;
  ASSERT_TRUE(health->Check(&ctx2, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
}

}  // namespace
}  // namespace neobert::server
