#include "server/store/job_codec.h"

#include <openssl/sha.h>

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/base/json.h"
#include "core/base/status_macros.h"
#include "nlohmann/json.hpp"

namespace neobert::server {
namespace {
using nlohmann::json;

// A stored object is a few KiB (a file list, a validation report); far more
// is corruption, and parsing it would only cost memory.
constexpr size_t kMaxJson = 8 << 20;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A stored column, read as every JSON input is (core/base/json.h): capped in
// size and nesting before it is parsed. Nothing of a corrupt row is quoted.
absl::StatusOr<json> Parse(std::string_view text, const char* what) {
  return base::ParseJsonObject(absl::string_view(text.data(), text.size()), what,
                               {.max_bytes = kMaxJson, .max_depth = 64}, /*quote=*/false);
}

// Typed field access that never throws: a wrong type is an error naming the
// field; a missing optional field keeps the default.
class Reader {
 public:
  Reader(const json& j, const char* what) : j_(j), what_(what) {}
  template <typename T>
  void Get(const char* key, T* out, bool required = false) {
    if (!status_.ok()) return;
    auto it = j_.find(key);
    if (it == j_.end()) {
      if (required) status_ = absl::InvalidArgumentError(absl::StrCat(what_, ": no '", key, "'"));
      return;
    }
    if (!Fits<T>(*it)) {
      status_ = absl::InvalidArgumentError(absl::StrCat(what_, ": '", key, "' has the wrong type"));
      return;
    }
    *out = it->template get<T>();
  }
  const json* Child(const char* key, json::value_t type) {
    if (!status_.ok()) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end()) return nullptr;
    if (it->type() != type) {
      status_ = absl::InvalidArgumentError(absl::StrCat(what_, ": '", key, "' has the wrong type"));
      return nullptr;
    }
    return &*it;
  }
  void Fail(absl::Status s) {
    if (status_.ok()) status_ = std::move(s);
  }
  const absl::Status& status() const { return status_; }

 private:
  template <typename T>
  static bool Fits(const json& v) {
    if constexpr (std::is_same_v<T, bool>) return v.is_boolean();
    else if constexpr (std::is_same_v<T, std::string>) return v.is_string();
    else if constexpr (std::is_same_v<T, double>) return v.is_number();
    else if constexpr (std::is_unsigned_v<T>) return v.is_number_unsigned();
    else if constexpr (std::is_integral_v<T>) return v.is_number_integer();
    else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      if (!v.is_array()) return false;
      for (const auto& s : v) {
        if (!s.is_string()) return false;
      }
      return true;
    }
    return false;
  }
  const json& j_;
  const char* what_;
  absl::Status status_;
};

// The row's layout predates typed specs and is kept as it was: every field
// of both kinds, the other kind's at their defaults, so that replicas of the
// previous version read rows this one writes during a rolling update.
json SpecJson(const JobSpec& s) {
  static const core::ExportOptions kNoExport;
  static const core::ValidateOptions kNoValidate;
  const auto* e = s.export_options();
  const auto* v = s.validate_options();
  const core::ExportOptions& o = e ? *e : kNoExport;
  const core::ValidateOptions& val = v ? *v : kNoValidate;
  return {{"kind", JobKindName(s.kind())},
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
          {"device", s.device()},
          {"validate_dir", val.export_dir},
          {"validate_source", val.source_dir},
          {"validate_strict", val.strict},
          {"idempotency_key", s.idempotency_key}};
}

absl::StatusOr<JobSpec> SpecFrom(const json& j) {
  core::ExportOptions o;
  core::ValidateOptions v;
  JobSpec s;
  Reader r(j, "spec");
  std::string kind;
  r.Get("kind", &kind, true);
  r.Get("checkpoint_dir", &o.checkpoint_dir, true);
  r.Get("output_dir", &o.output_dir, true);
  r.Get("dtype", &o.dtype);
  r.Get("max_shard_bytes", &o.max_shard_bytes);
  r.Get("write_pytorch_bin", &o.write_pytorch_bin);
  r.Get("overwrite", &o.overwrite);
  r.Get("dry_run", &o.dry_run);
  r.Get("drop_decoder_bias", &o.drop_decoder_bias);
  r.Get("prefer_newest_file", &o.prefer_newest_file);
  r.Get("sync", &o.sync);
  r.Get("validate", &o.validate);
  r.Get("device", &o.device);
  r.Get("validate_dir", &v.export_dir);
  r.Get("validate_source", &v.source_dir);
  r.Get("validate_strict", &v.strict);
  r.Get("idempotency_key", &s.idempotency_key);
  if (!r.status().ok()) return r.status();
  if (kind == "export") {
    s.options = std::move(o);
  } else if (kind == "validate") {
    v.device = std::move(o.device);
    s.options = std::move(v);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("spec: unknown kind '", kind, "'"));
  }
  return s;
}

json ResultJson(const core::ExportResult& r) {
  json files = json::array();
  for (const auto& f : r.files) files.push_back({{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}});
  json out = {{"output_dir", r.output_dir}, {"files", std::move(files)},
              {"notes", r.notes},           {"warnings", r.warnings},
              {"seconds", r.seconds},       {"skipped", r.skipped},
              {"dry_run", r.dry_run},       {"dtype", r.dtype},
              {"tensor_count", r.tensor_count},
              {"sanity_device", r.sanity_device},
              {"sanity_seconds", r.sanity_seconds},
              {"weights_file", r.weights_file},
              {"weights_format", r.weights_format},
              {"decoder_bias", r.decoder_bias},
              {"tied_decoder", r.tied_decoder},
              {"tensor_bytes", r.tensor_bytes}};
  if (!r.mapping.empty()) out["mapping"] = r.mapping;  // dry runs
  if (r.validation) {
    json checks = json::array();
    for (const auto& c : r.validation->checks) {
      checks.push_back({{"name", c.name}, {"passed", c.passed}, {"detail", c.detail},
                        {"advisory", c.advisory}});
    }
    out["checks"] = std::move(checks);
  }
  return out;
}

absl::StatusOr<core::ExportResult> ResultFrom(const json& j) {
  core::ExportResult res;
  Reader r(j, "result");
  r.Get("output_dir", &res.output_dir, true);
  r.Get("notes", &res.notes);
  r.Get("warnings", &res.warnings);
  r.Get("seconds", &res.seconds);
  r.Get("skipped", &res.skipped);
  r.Get("dry_run", &res.dry_run);
  r.Get("dtype", &res.dtype);
  r.Get("tensor_count", &res.tensor_count);
  r.Get("sanity_device", &res.sanity_device);
  r.Get("sanity_seconds", &res.sanity_seconds);
  r.Get("weights_file", &res.weights_file);
  r.Get("weights_format", &res.weights_format);
  r.Get("decoder_bias", &res.decoder_bias);
  r.Get("tied_decoder", &res.tied_decoder);
  r.Get("tensor_bytes", &res.tensor_bytes);
  r.Get("mapping", &res.mapping);
  if (const json* files = r.Child("files", json::value_t::array)) {
    for (const auto& f : *files) {
      if (!f.is_object()) return absl::InvalidArgumentError("result: a file entry is not an object");
      core::FileRecord rec;
      Reader fr(f, "result file");
      fr.Get("name", &rec.name, true);
      fr.Get("size", &rec.size);
      fr.Get("sha256", &rec.sha256);
      if (!fr.status().ok()) return fr.status();
      res.files.push_back(std::move(rec));
    }
  }
  if (const json* checks = r.Child("checks", json::value_t::array)) {
    core::ValidationReport report;
    report.export_dir = res.output_dir;
    for (const auto& c : *checks) {
      if (!c.is_object()) return absl::InvalidArgumentError("result: a check is not an object");
      core::ValidationCheck check;
      Reader cr(c, "result check");
      cr.Get("name", &check.name, true);
      cr.Get("passed", &check.passed);
      cr.Get("detail", &check.detail);
      cr.Get("advisory", &check.advisory);
      if (!cr.status().ok()) return cr.status();
      report.checks.push_back(std::move(check));
    }
    res.validation = std::move(report);
  }
  if (!r.status().ok()) return r.status();
  return res;
}

json HookJson(const HookOutcome& h) {
  return {{"ran", h.ran}, {"exit_code", h.exit_code}, {"message", h.message}};
}

absl::StatusOr<HookOutcome> HookFrom(const json& j) {
  HookOutcome h;
  Reader r(j, "hook");
  r.Get("ran", &h.ran);
  r.Get("exit_code", &h.exit_code);
  r.Get("message", &h.message);
  if (!r.status().ok()) return r.status();
  return h;
}

json StatusJson(const absl::Status& s) {
  json out = {{"code", static_cast<int>(s.code())}, {"message", std::string(s.message())}};
  json payloads = json::object();
  s.ForEachPayload([&](absl::string_view type_url, const absl::Cord& value) {
    payloads[std::string(type_url)] = absl::Base64Escape(std::string(value));
  });
  if (!payloads.empty()) out["payloads"] = std::move(payloads);
  return out;
}

absl::StatusOr<absl::Status> StatusFrom(const json& j) {
  Reader r(j, "error");
  int code = 0;
  std::string message;
  r.Get("code", &code, true);
  r.Get("message", &message);
  const json* payloads = r.Child("payloads", json::value_t::object);
  if (!r.status().ok()) return r.status();
  // An OK or unknown code cannot describe a failure: keep the message.
  if (code <= 0 || code > 16) code = static_cast<int>(absl::StatusCode::kUnknown);
  absl::Status s(static_cast<absl::StatusCode>(code), message);
  if (payloads) {
    for (const auto& [type_url, value] : payloads->items()) {
      std::string bytes;
      if (!value.is_string() || !absl::Base64Unescape(value.get<std::string>(), &bytes)) {
        return absl::InvalidArgumentError(absl::StrCat("error: payload '", type_url, "' is not base64"));
      }
      s.SetPayload(type_url, absl::Cord(bytes));
    }
  }
  return s;
}

// The outcome fields a snapshot and an event share: result, hook, error.
absl::Status OutcomeFrom(Reader& r, std::optional<core::ExportResult>* result, HookOutcome* hook,
                         absl::Status* error) {
  const json* res = r.Child("result", json::value_t::object);
  const json* h = r.Child("hook", json::value_t::object);
  const json* e = r.Child("error", json::value_t::object);
  if (!r.status().ok()) return r.status();
  if (res) {
    ASSIGN_OR_RETURN(auto v, ResultFrom(*res));
    *result = std::move(v);
  }
  if (h) {
    ASSIGN_OR_RETURN(auto v, HookFrom(*h));
    *hook = v;
  }
  if (e) {
    ASSIGN_OR_RETURN(auto v, StatusFrom(*e));
    *error = v;
  }
  return absl::OkStatus();
}

// Decodes a whole snapshot object (a journal line).
absl::StatusOr<JobSnapshot> SnapshotFrom(const json& j) {
  JobSnapshot out;
  Reader r(j, "job");
  std::string state;
  r.Get("id", &out.id, true);
  r.Get("state", &state, true);
  r.Get("stage", &out.stage);
  r.Get("percent", &out.percent);
  r.Get("created_unix_ms", &out.created_unix_ms);
  r.Get("finished_unix_ms", &out.finished_unix_ms);
  const json* spec = r.Child("spec", json::value_t::object);
  if (!r.status().ok()) return r.status();
  if (!spec) return absl::InvalidArgumentError("job: no 'spec'");
  auto st = JobStateFromName(state);
  if (!st) return absl::InvalidArgumentError(absl::StrCat("job: unknown state '", state, "'"));
  out.state = *st;
  ASSIGN_OR_RETURN(auto s, SpecFrom(*spec));
  out.spec = std::move(s);
  RETURN_IF_ERROR(OutcomeFrom(r, &out.result, &out.hook, &out.error));
  return out;
}

template <typename T, typename F>
absl::StatusOr<T> ParseAnd(std::string_view text, const char* what, F from) {
  ASSIGN_OR_RETURN(auto j, Parse(text, what));
  return from(j);
}

// The request fields that make two requests the same work, by their proto
// names. A field added to ExportRequest / ValidateRequest that changes the
// output joins this table.
std::vector<std::pair<const char*, std::string>> Identity(const JobSpec& s) {
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  if (const auto* v = s.validate_options()) {
    return {{"kind", "validate"},
            {"export_dir", v->export_dir},
            {"source_dir", v->source_dir},
            {"strict", b(v->strict)}};
  }
  const core::ExportOptions& o = *s.export_options();
  return {{"kind", "export"},
          {"checkpoint_dir", o.checkpoint_dir},
          {"output_dir", o.output_dir},
          {"dtype", o.dtype},
          {"max_shard_bytes", absl::StrCat(o.max_shard_bytes)},
          {"write_pytorch_bin", b(o.write_pytorch_bin)},
          {"overwrite", b(o.overwrite)},
          {"dry_run", b(o.dry_run)},
          {"drop_decoder_bias", b(o.drop_decoder_bias)},
          {"prefer_newest_file", b(o.prefer_newest_file)},
          {"validate", b(o.validate)}};
}

}  // namespace

std::string EncodeSpec(const JobSpec& spec) { return Dump(SpecJson(spec)); }
absl::StatusOr<JobSpec> DecodeSpec(std::string_view text) {
  return ParseAnd<JobSpec>(text, "spec", SpecFrom);
}

std::string EncodeResult(const core::ExportResult& result) { return Dump(ResultJson(result)); }
absl::StatusOr<core::ExportResult> DecodeResult(std::string_view text) {
  return ParseAnd<core::ExportResult>(text, "result", ResultFrom);
}

std::string EncodeHook(const HookOutcome& hook) { return Dump(HookJson(hook)); }
absl::StatusOr<HookOutcome> DecodeHook(std::string_view text) {
  return ParseAnd<HookOutcome>(text, "hook", HookFrom);
}

std::string EncodeStatus(const absl::Status& status) {
  return status.ok() ? std::string() : Dump(StatusJson(status));
}
absl::StatusOr<absl::Status> DecodeStatus(std::string_view text) {
  if (text.empty()) return absl::OkStatus();
  return ParseAnd<absl::Status>(text, "error", StatusFrom);
}

std::string EncodeEvent(const JobEvent& e) {
  json out = {{"state", JobStateName(e.state)},
              {"stage", e.stage},
              {"message", e.message},
              {"bytes_done", e.bytes_done},
              {"bytes_total", e.bytes_total},
              {"percent", e.percent}};
  if (!e.warning.empty()) out["warning"] = e.warning;
  if (e.final) out["final"] = true;
  if (e.result) out["result"] = ResultJson(*e.result);
  if (e.hook.ran) out["hook"] = HookJson(e.hook);
  if (!e.error.ok()) out["error"] = StatusJson(e.error);
  return Dump(out);
}

absl::StatusOr<JobEvent> DecodeEvent(std::string_view text) {
  ASSIGN_OR_RETURN(auto j, Parse(text, "event"));
  JobEvent e;
  Reader r(j, "event");
  std::string state;
  r.Get("state", &state, true);
  r.Get("stage", &e.stage);
  r.Get("message", &e.message);
  r.Get("bytes_done", &e.bytes_done);
  r.Get("bytes_total", &e.bytes_total);
  r.Get("percent", &e.percent);
  r.Get("warning", &e.warning);
  r.Get("final", &e.final);
  if (!r.status().ok()) return r.status();
  auto st = JobStateFromName(state);
  if (!st) return absl::InvalidArgumentError(absl::StrCat("event: unknown state '", state, "'"));
  e.state = *st;
  RETURN_IF_ERROR(OutcomeFrom(r, &e.result, &e.hook, &e.error));
  return e;
}

absl::StatusOr<JobSnapshot> DecodeJournalLine(std::string_view line) {
  return ParseAnd<JobSnapshot>(line, "journal line", SnapshotFrom);
}

std::string EncodeJournalLine(const JobSnapshot& j) {
  json out = {{"id", j.id},
              {"state", JobStateName(j.state)},
              {"spec", SpecJson(j.spec)},
              {"stage", j.stage},
              {"percent", j.percent},
              {"created_unix_ms", j.created_unix_ms},
              {"finished_unix_ms", j.finished_unix_ms}};
  if (j.result) out["result"] = ResultJson(*j.result);
  if (j.hook.ran) out["hook"] = HookJson(j.hook);
  if (!j.error.ok()) out["error"] = StatusJson(j.error);
  return Dump(out);
}

std::string SpecKey(const JobSpec& spec) {
  std::string canonical;
  for (const auto& [name, value] : Identity(spec)) absl::StrAppend(&canonical, name, "=", value, "\n");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string SpecDifference(const JobSpec& a, const JobSpec& b) {
  const auto ia = Identity(a), ib = Identity(b);
  if (ia.size() != ib.size()) return "kind";
  for (size_t i = 0; i < ia.size(); ++i) {
    if (ia[i].second != ib[i].second) return ia[i].first;
  }
  return "";
}

}  // namespace neobert::server
