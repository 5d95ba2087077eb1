// libFuzzer target for tutti-batch's job files (parseJob).
//
// Any input must parse or fail cleanly with a message (no crash, no
// sanitizer report). A job that parses is a DAG in a valid order: `order` is
// a permutation of the stages in which every stage comes after the stages it
// depends on, and its task count stays within the bound. A violated property
// calls abort().
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "frameworks/batch/job.hpp"

namespace {

void check(bool ok, const char* what, const std::string& input) {
  if (ok) return;
  std::fprintf(stderr, "batch_job_fuzz: %s\n  input: %s\n", what, input.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tutti::batch;
  std::string input(reinterpret_cast<const char*>(data), size);
  auto job = parseJob(input);
  if (!job.ok()) {
    check(!job.status().message().empty(), "rejected without a message", input);
    return 0;
  }
  size_t n = job->stages.size();
  check(n > 0 && job->order.size() == n, "order does not cover the stages", input);
  std::vector<int> position(n, -1);
  for (size_t i = 0; i < n; ++i) {
    check(job->order[i] < n && position[job->order[i]] < 0, "order is not a permutation",
          input);
    position[job->order[i]] = static_cast<int>(i);
  }
  for (size_t s = 0; s < n; ++s) {
    const Stage& stage = job->stages[s];
    check(stage.count >= 1, "a stage without tasks", input);
    check(!stage.command.empty() || !stage.image.empty(), "a stage with nothing to run", input);
    for (const auto& dep : stage.dependsOn) {
      auto d = job->find(dep);
      check(d && position[*d] < position[s], "a stage ordered before its dependency", input);
    }
  }
  check(job->totalTasks() <= 1000000, "too many tasks accepted", input);
  return 0;
}
