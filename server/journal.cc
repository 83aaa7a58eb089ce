#include "server/journal.h"

#include <cstdint>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace neobert::server {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kJournalName[] = "jobs.jsonl";
// A journal line is a few KiB at most; anything far larger is corrupt.
constexpr size_t kMaxLine = 4 << 20;

absl::Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("journal '", path, "': write: ", std::strerror(errno)));
    }
    off += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

std::string SnapshotToJson(const JobSnapshot& j) {
  const auto& o = j.spec.export_options;
  json spec = {{"kind", j.spec.kind == JobKind::kExport ? "export" : "validate"},
               {"checkpoint_dir", o.checkpoint_dir},
               {"output_dir", o.output_dir},
               {"dtype", o.dtype},
               {"max_shard_bytes", o.max_shard_bytes},
               {"write_pytorch_bin", o.write_pytorch_bin},
               {"overwrite", o.overwrite},
               {"dry_run", o.dry_run},
               {"drop_decoder_bias", o.drop_decoder_bias},
               {"prefer_newest_file", o.prefer_newest_file},
               {"sync", o.sync},
               {"validate", o.validate},
               {"device", o.device},
               {"validate_dir", j.spec.validate_dir},
               {"validate_source", j.spec.validate_source},
               {"validate_strict", j.spec.validate_strict},
               {"idempotency_key", j.spec.idempotency_key}};
  json out = {{"id", j.id},
              {"state", JobStateName(j.state)},
              {"spec", std::move(spec)},
              {"stage", j.stage},
              {"percent", j.percent},
              {"created_unix_ms", j.created_unix_ms},
              {"finished_unix_ms", j.finished_unix_ms}};
  if (j.result) {
    const auto& r = *j.result;
    json files = json::array();
    for (const auto& f : r.files) files.push_back({{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}});
    out["result"] = {{"output_dir", r.output_dir}, {"files", std::move(files)},
                     {"notes", r.notes},           {"warnings", r.warnings},
                     {"seconds", r.seconds},       {"skipped", r.skipped},
                     {"dry_run", r.dry_run},       {"dtype", r.dtype},
                     {"tensor_count", r.tensor_count},
                     {"sanity_device", r.sanity_device},
                     {"sanity_seconds", r.sanity_seconds}};
    if (r.validation) {
      json checks = json::array();
      for (const auto& c : r.validation->checks) {
        checks.push_back({{"name", c.name}, {"passed", c.passed}, {"detail", c.detail},
                          {"advisory", c.advisory}});
      }
      out["result"]["checks"] = std::move(checks);
    }
  }
  if (j.hook.ran) {
    out["hook"] = {{"ran", true}, {"exit_code", j.hook.exit_code}, {"message", j.hook.message}};
  }
  if (!j.error.ok()) {
    out["error"] = {{"code", static_cast<int>(j.error.code())},
                    {"message", std::string(j.error.message())}};
    // The whole status: its payloads carry the reason (error_reason.h).
    json payloads = json::object();
    j.error.ForEachPayload([&payloads](absl::string_view url, const absl::Cord& bytes) {
      payloads[std::string(url)] = absl::Base64Escape(std::string(bytes));
    });
    if (!payloads.empty()) out["error"]["payloads"] = std::move(payloads);
  }
  // Replace invalid UTF-8 rather than throw: messages may quote file names.
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<JobSnapshot> SnapshotFromJson(const std::string& line) {
  try {
    json in = json::parse(line);
    JobSnapshot j;
    j.id = in.at("id").get<std::string>();
    auto st = JobStateFromName(in.at("state").get<std::string>());
    if (!st) return absl::InvalidArgumentError("unknown state");
    j.state = *st;
    const json& s = in.at("spec");
    j.spec.kind = s.at("kind").get<std::string>() == "validate" ? JobKind::kValidate : JobKind::kExport;
    auto& o = j.spec.export_options;
    o.checkpoint_dir = s.at("checkpoint_dir").get<std::string>();
    o.output_dir = s.at("output_dir").get<std::string>();
    o.dtype = s.at("dtype").get<std::string>();
    o.max_shard_bytes = s.at("max_shard_bytes").get<uint64_t>();
    o.write_pytorch_bin = s.at("write_pytorch_bin").get<bool>();
    o.overwrite = s.at("overwrite").get<bool>();
    o.dry_run = s.at("dry_run").get<bool>();
    o.drop_decoder_bias = s.at("drop_decoder_bias").get<bool>();
    o.prefer_newest_file = s.at("prefer_newest_file").get<bool>();
    o.sync = s.value("sync", true);
    o.validate = s.value("validate", false);
    o.device = s.value("device", "auto");
    j.spec.validate_dir = s.at("validate_dir").get<std::string>();
    j.spec.validate_source = s.value("validate_source", "");
    j.spec.validate_strict = s.value("validate_strict", false);
    j.spec.idempotency_key = s.at("idempotency_key").get<std::string>();
    j.stage = in.value("stage", "");
    j.percent = in.value("percent", 0.0);
    j.created_unix_ms = in.value("created_unix_ms", int64_t{0});
    j.finished_unix_ms = in.value("finished_unix_ms", int64_t{0});
    if (in.contains("result")) {
      const json& r = in["result"];
      core::ExportResult res;
      res.output_dir = r.at("output_dir").get<std::string>();
      for (const auto& f : r.at("files")) {
        res.files.push_back({f.at("name").get<std::string>(), f.at("size").get<uint64_t>(),
                             f.at("sha256").get<std::string>()});
      }
      res.notes = r.at("notes").get<std::vector<std::string>>();
      res.warnings = r.at("warnings").get<std::vector<std::string>>();
      res.seconds = r.value("seconds", 0.0);
      res.skipped = r.value("skipped", false);
      res.dry_run = r.value("dry_run", false);
      res.dtype = r.value("dtype", "");
      res.tensor_count = r.value("tensor_count", uint64_t{0});
      res.sanity_device = r.value("sanity_device", "");
      res.sanity_seconds = r.value("sanity_seconds", 0.0);
      if (r.contains("checks")) {
        core::ValidationReport report;
        report.export_dir = res.output_dir;
        for (const auto& c : r.at("checks")) {
          core::ValidationCheck check;
          check.name = c.at("name").get<std::string>();
          check.passed = c.at("passed").get<bool>();
          check.detail = c.at("detail").get<std::string>();
          check.advisory = c.value("advisory", false);
          report.checks.push_back(std::move(check));
        }
        res.validation = std::move(report);
      }
      j.result = std::move(res);
    }
    if (in.contains("hook")) {
      const json& h = in["hook"];
      j.hook.ran = h.value("ran", false);
      j.hook.exit_code = h.value("exit_code", 0);
      j.hook.message = h.value("message", "");
    }
    if (in.contains("error")) {
      int code = in["error"].at("code").get<int>();
      if (code <= 0 || code > 16) code = static_cast<int>(absl::StatusCode::kUnknown);
      j.error = absl::Status(static_cast<absl::StatusCode>(code),
                             in["error"].at("message").get<std::string>());
      if (in["error"].contains("payloads")) {
        for (const auto& [url, b64] : in["error"]["payloads"].items()) {
          std::string bytes;
          if (absl::Base64Unescape(b64.get<std::string>(), &bytes)) j.error.SetPayload(url, absl::Cord(bytes));
        }
      }
    }
    return j;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("bad journal line: ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(const std::string& state_dir,
                                                       std::vector<JobSnapshot>* recovered) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("state dir '", state_dir, "': ", ec.message()));
  }
  const std::string path = (fs::path(state_dir) / kJournalName).string();
  std::map<std::string, JobSnapshot> last;
  std::vector<std::string> order;
  {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    while (in && std::getline(in, line)) {
      if (line.empty() || line.size() > kMaxLine) continue;
      auto snap = SnapshotFromJson(line);
      if (!snap.ok()) continue;  // torn or foreign line: the rest still counts
      if (!last.count(snap->id)) order.push_back(snap->id);
      last[snap->id] = std::move(*snap);
    }
  }
  std::string compact;
  recovered->clear();
  for (const auto& id : order) {
    JobSnapshot j = last[id];
    if (!IsTerminal(j.state)) {
      j.error = absl::AbortedError(absl::StrCat("the server stopped while the job was ",
                                                JobStateName(j.state), "; submit it again"));
      j.state = JobState::kInterrupted;
    }
    compact += SnapshotToJson(j);
    compact += '\n';
    recovered->push_back(std::move(j));
  }
  const std::string tmp = path + ".tmp";
  int tfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (tfd < 0) {
    return absl::InternalError(absl::StrCat("journal '", tmp, "': ", std::strerror(errno)));
  }
  absl::Status ws = WriteAll(tfd, compact, tmp);
  if (ws.ok() && ::fsync(tfd) != 0) ws = absl::InternalError(absl::StrCat("journal '", tmp, "': fsync"));
  ::close(tfd);
  if (!ws.ok()) return ws;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("journal '", path, "': rename: ", std::strerror(errno)));
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("journal '", path, "': ", std::strerror(errno)));
  return std::unique_ptr<Journal>(new Journal(path, fd));
}

Journal::~Journal() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) ::close(fd_);
}

absl::Status Journal::Append(const JobSnapshot& job) {
  std::string line = SnapshotToJson(job);
  line += '\n';
  absl::MutexLock lock(&mu_);
  if (auto s = WriteAll(fd_, line, path_); !s.ok()) return s;
  if (IsTerminal(job.state) && ::fdatasync(fd_) != 0) {
    return absl::InternalError(absl::StrCat("journal '", path_, "': fdatasync: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace neobert::server
