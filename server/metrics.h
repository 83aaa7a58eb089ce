// A small thread-safe metrics registry with Prometheus text exposition
// (format 0.0.4): counters, gauges and fixed-bucket histograms, each a family
// of series told apart by label values.
//
// Families are registered once at startup (names and label names are checked
// then; a bad one is a programming error and aborts). Updating a series takes
// the family's own mutex only, so updates from job threads, RPC threads and
// a scrape never contend on one global lock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace neobert::server::metrics {

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;

enum class Type { kCounter, kGauge, kHistogram };

class Family {
 public:
  Family(Type type, std::string name, std::string help, std::vector<std::string> label_names);
  virtual ~Family() = default;
  const std::string& name() const { return name_; }
  // Appends this family's "# HELP", "# TYPE" and sample lines to `out`.
  void Expose(std::string* out) const;

 protected:
  // Aborts unless `values` has one value per label name.
  void CheckArity(const LabelValues& values) const;
  // `{a="x",b="y"}` (plus `extra`, e.g. le="0.5", last), or "" for no labels.
  std::string LabelSet(const LabelValues& values, const std::string& extra = "") const;
  virtual void ExposeSamples(std::string* out) const = 0;

  const Type type_;
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
};

// A value that only goes up (jobs finished, bytes written, RPCs served).
class Counter final : public Family {
 public:
  Counter(std::string name, std::string help, std::vector<std::string> label_names);
  // `delta` must be >= 0 (a negative one is ignored: counters never go down).
  void Add(const LabelValues& values, double delta = 1);
  // Makes the series exist (at 0) so a scrape shows it before its first event.
  void Touch(const LabelValues& values) { Add(values, 0); }
  double Value(const LabelValues& values) const;

 private:
  void ExposeSamples(std::string* out) const override;
  mutable absl::Mutex mu_;
  std::map<LabelValues, double> series_ ABSL_GUARDED_BY(mu_);
};

// A value that goes up and down (jobs queued, last export's MB/s).
class Gauge final : public Family {
 public:
  Gauge(std::string name, std::string help, std::vector<std::string> label_names);
  void Set(const LabelValues& values, double value);
  void Add(const LabelValues& values, double delta);
  double Value(const LabelValues& values) const;

 private:
  void ExposeSamples(std::string* out) const override;
  mutable absl::Mutex mu_;
  std::map<LabelValues, double> series_ ABSL_GUARDED_BY(mu_);
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is
// implicit), with their sum and count.
class Histogram final : public Family {
 public:
  Histogram(std::string name, std::string help, std::vector<std::string> label_names,
            std::vector<double> bounds);
  void Observe(const LabelValues& values, double value);
  // Observations so far in the series (0 if it does not exist).
  uint64_t Count(const LabelValues& values) const;
  double Sum(const LabelValues& values) const;

 private:
  struct Series {
    std::vector<uint64_t> buckets;  // per bound, not cumulative; +1 for +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  void ExposeSamples(std::string* out) const override;
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::map<LabelValues, Series> series_ ABSL_GUARDED_BY(mu_);
};

class Registry {
 public:
  // The returned family lives as long as the registry. Names must match
  // [a-zA-Z_:][a-zA-Z0-9_:]* and be unique; label names [a-zA-Z_][a-zA-Z0-9_]*
  // without a leading "__" (and no "le" on a histogram).
  Counter* AddCounter(const std::string& name, const std::string& help,
                      std::vector<std::string> label_names = {});
  Gauge* AddGauge(const std::string& name, const std::string& help,
                  std::vector<std::string> label_names = {});
  Histogram* AddHistogram(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names, std::vector<double> bounds);

  // Every family, in registration order, in the text exposition format.
  std::string Expose() const;

 private:
  template <typename T>
  T* Add(std::unique_ptr<T> family);
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
};

// The Content-Type of Registry::Expose()'s text.
inline constexpr char kExpositionContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Sample values as Prometheus writes them: shortest round-trip decimal,
// "+Inf", "-Inf", "NaN".
std::string FormatValue(double v);
// A label value with \ " and newline escaped.
std::string EscapeLabelValue(const std::string& v);

}  // namespace neobert::server::metrics
