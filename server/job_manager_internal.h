// The JobManager's private structures, shared by job_manager.cc (requests,
// workers) and job_manager_poll.cc (the store poller).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "server/job_manager.h"

namespace neobert::server {

// A job that a worker of this server runs (one run of it).
struct JobManager::Run {
  RunRef ref;
  JobSnapshot snap;  // live: stage and percent move with the job
  int attempt = 0;
  base::CancelToken cancel;
  bool release = false;  // draining: give the job back instead of finishing it
  bool lost = false;     // taken over elsewhere: its outcome is not ours to store
  bool shutdown = false; // cancelled by CancelAll (the server stops): INTERRUPTED
  uint64_t n = 1;        // low half of the last sequence used (1: the stored RUNNING event)
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  std::string message;
  int published_percent = -1;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// The watchers on this server of one job, and how far the store poll has
// delivered its stored events.
struct JobManager::Feed {
  std::vector<std::weak_ptr<EventStream>> watchers;
  uint64_t cursor = 0;
  bool final_seen = false;
};

// An event waiting to be stored by the poller.
struct JobManager::Unsaved {
  RunRef ref;
  JobEvent event;
  bool progress_only = false;  // a newer progress event of the same stage replaces it
};

// Events of a run: (run << 32) | n.
inline uint64_t RunSequence(int64_t run, uint64_t n) { return (static_cast<uint64_t>(run) << 32) | n; }

// The event that describes a stored job as it is now.
JobEvent SnapshotEvent(const StoredJob& job);

}  // namespace neobert::server
