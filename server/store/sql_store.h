// The JobStore over sql::Connection (both backends), and the pieces the
// schema code shares with it. Internal to server/store/; users include
// job_store.h.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/store/job_store.h"
#include "server/store/sql_db.h"
#include "server/store/state_dir_lock.h"

namespace neobert::server::sql {

// A few connections, handed to one thread at a time. Broken ones are dropped
// and reopened on the next use.
class Pool {
 public:
  using Opener = std::function<absl::StatusOr<std::unique_ptr<Connection>>()>;
  Pool(Opener open, int size) : open_(std::move(open)), size_(size) {}

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (c_) pool_->Return(std::move(c_));
    }
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> c_;
  };
  absl::StatusOr<Lease> Get();

 private:
  void Return(std::unique_ptr<Connection> c);
  Opener open_;
  const int size_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_count_ ABSL_GUARDED_BY(mu_) = 0;
};

// Runs `body` in a write transaction (retried on serialization failures),
// or, for Read, on a connection without one.
// A durable Write is fsynced (SQLite with sync): jobs' ends, like the old
// journal's fdatasync of terminal states; the rest would at worst re-run a
// job after a power failure.
absl::Status Write(Pool& pool, const std::function<absl::Status(Connection&)>& body,
                   bool durable = false);
absl::Status Read(Pool& pool, const std::function<absl::Status(Connection&)>& body);

// Creates or migrates the schema to kJobStoreSchemaVersion (serialised
// between replicas), then imports <state_dir>/jobs.jsonl once.
absl::Status PrepareSchema(Pool& pool, const JobStoreOptions& options);

// The job columns every SELECT ... / RETURNING lists, and their decoding.
extern const char kJobColumns[];
StoredJob JobFromRow(const Row& row);

std::unique_ptr<JobStore> MakeSqlStore(std::unique_ptr<Pool> pool, std::string described, bool shared,
                                       std::unique_ptr<StateDirLock> lock);

}  // namespace neobert::server::sql
