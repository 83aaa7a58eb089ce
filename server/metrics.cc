#include "server/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace neobert::server::metrics {

namespace {

// Registration and arity mistakes are programming errors that every test
// run hits at once; a metric silently missing would be worse than stopping.
[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "metrics: %s\n", what.c_str());
  std::abort();
}

bool ValidName(const std::string& s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// HELP text escapes only backslash and newline (the format's rule).
std::string EscapeHelp(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter: return "counter";
    case Type::kGauge: return "gauge";
    case Type::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// --- Family ----------------------------------------------------------------

Family::Family(Type type, std::string name, std::string help, std::vector<std::string> label_names)
    : type_(type), name_(std::move(name)), help_(std::move(help)),
      label_names_(std::move(label_names)) {
  if (!ValidName(name_, /*allow_colon=*/true)) Fail(absl::StrCat("bad metric name '", name_, "'"));
  for (const auto& l : label_names_) {
    if (!ValidName(l, false) || l.rfind("__", 0) == 0 || (type_ == Type::kHistogram && l == "le")) {
      Fail(absl::StrCat("bad label name '", l, "' on ", name_));
    }
  }
}

void Family::CheckArity(const LabelValues& values) const {
  if (values.size() != label_names_.size()) {
    Fail(absl::StrCat(name_, ": ", values.size(), " label values for ", label_names_.size(),
                      " labels"));
  }
}

std::string Family::LabelSet(const LabelValues& values, const std::string& extra) const {
  if (label_names_.empty() && extra.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < label_names_.size(); ++i) {
    if (i) out += ',';
    absl::StrAppend(&out, label_names_[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, label_names_.empty() ? "" : ",", extra);
  out += '}';
  return out;
}

void Family::Expose(std::string* out) const {
  absl::StrAppend(out, "# HELP ", name_, " ", EscapeHelp(help_), "\n");
  absl::StrAppend(out, "# TYPE ", name_, " ", TypeName(type_), "\n");
  ExposeSamples(out);
}

// --- Counter / Gauge ---------------------------------------------------------

Counter::Counter(std::string name, std::string help, std::vector<std::string> label_names)
    : Family(Type::kCounter, std::move(name), std::move(help), std::move(label_names)) {
  // A counter without labels has exactly one series: show it from the start.
  if (label_names_.empty()) series_[{}] = 0;
}

void Counter::Add(const LabelValues& values, double delta) {
  CheckArity(values);
  if (!(delta >= 0)) return;
  absl::MutexLock lock(&mu_);
  series_[values] += delta;
}

double Counter::Value(const LabelValues& values) const {
  absl::MutexLock lock(&mu_);
  auto it = series_.find(values);
  return it == series_.end() ? 0 : it->second;
}

void Counter::ExposeSamples(std::string* out) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, v] : series_) {
    absl::StrAppend(out, name_, LabelSet(labels), " ", FormatValue(v), "\n");
  }
}

Gauge::Gauge(std::string name, std::string help, std::vector<std::string> label_names)
    : Family(Type::kGauge, std::move(name), std::move(help), std::move(label_names)) {
  if (label_names_.empty()) series_[{}] = 0;
}

void Gauge::Set(const LabelValues& values, double value) {
  CheckArity(values);
  absl::MutexLock lock(&mu_);
  series_[values] = value;
}

void Gauge::Add(const LabelValues& values, double delta) {
  CheckArity(values);
  absl::MutexLock lock(&mu_);
  series_[values] += delta;
}

double Gauge::Value(const LabelValues& values) const {
  absl::MutexLock lock(&mu_);
  auto it = series_.find(values);
  return it == series_.end() ? 0 : it->second;
}

void Gauge::ExposeSamples(std::string* out) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, v] : series_) {
    absl::StrAppend(out, name_, LabelSet(labels), " ", FormatValue(v), "\n");
  }
}

// --- Histogram -------------------------------------------------------------

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds)
    : Family(Type::kHistogram, std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bounds)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      Fail(absl::StrCat(name_, ": bucket bounds must be finite and strictly ascending"));
    }
  }
}

void Histogram::Observe(const LabelValues& values, double value) {
  CheckArity(values);
  // A bucket counts observations <= its bound; the last slot is +Inf.
  const size_t slot =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  absl::MutexLock lock(&mu_);
  Series& s = series_[values];
  if (s.buckets.empty()) s.buckets.assign(bounds_.size() + 1, 0);
  ++s.buckets[std::isnan(value) ? bounds_.size() : slot];
  s.sum += value;
  ++s.count;
}

uint64_t Histogram::Count(const LabelValues& values) const {
  absl::MutexLock lock(&mu_);
  auto it = series_.find(values);
  return it == series_.end() ? 0 : it->second.count;
}

double Histogram::Sum(const LabelValues& values) const {
  absl::MutexLock lock(&mu_);
  auto it = series_.find(values);
  return it == series_.end() ? 0 : it->second.sum;
}

void Histogram::ExposeSamples(std::string* out) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, s] : series_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += s.buckets[i];
      const std::string le = i < bounds_.size() ? FormatValue(bounds_[i]) : "+Inf";
      absl::StrAppend(out, name_, "_bucket", LabelSet(labels, absl::StrCat("le=\"", le, "\"")), " ",
                      cumulative, "\n");
    }
    absl::StrAppend(out, name_, "_sum", LabelSet(labels), " ", FormatValue(s.sum), "\n");
    absl::StrAppend(out, name_, "_count", LabelSet(labels), " ", s.count, "\n");
  }
}

// --- Registry ----------------------------------------------------------------

template <typename T>
T* Registry::Add(std::unique_ptr<T> family) {
  absl::MutexLock lock(&mu_);
  for (const auto& f : families_) {
    if (f->name() == family->name()) Fail(absl::StrCat("metric '", f->name(), "' registered twice"));
  }
  T* raw = family.get();
  families_.push_back(std::move(family));
  return raw;
}

Counter* Registry::AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names) {
  return Add(std::make_unique<Counter>(name, help, std::move(label_names)));
}

Gauge* Registry::AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names) {
  return Add(std::make_unique<Gauge>(name, help, std::move(label_names)));
}

Histogram* Registry::AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> bounds) {
  return Add(std::make_unique<Histogram>(name, help, std::move(label_names), std::move(bounds)));
}

std::string Registry::Expose() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& f : families_) f->Expose(&out);
  return out;
}

}  // namespace neobert::server::metrics
