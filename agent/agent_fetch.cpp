// The Agent's fetching of a command's URIs (see fetcher/fetcher.hpp and
// fetcher/fetcher_cache.hpp): tutti-fetcher runs in the sandbox, as the
// task's user, before the executor starts; its failure fails the tasks.
#include <fcntl.h>
#include <glog/logging.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "agent/agent.hpp"
#include "agent/fetcher/fetcher.hpp"
#include "common/duration.hpp"

namespace tutti::agent {


void Agent::fetchThenStart(ExecutorRecord& rec, LaunchSpec spec, const Resources& taskResources) {
  if (rec.uris.empty()) {
    startExecutor(rec, std::move(spec), taskResources);
    return;
  }
  rec.preparing = true;
  FrameworkID f = rec.frameworkId;
  ExecutorID e = rec.id;
  ContainerID c = rec.containerId;
  // As in Mesos, fetching (and waiting for another task's download of a
  // cached URI) counts against the executor registration timeout: a server
  // that trickles bytes cannot hold a task (or those waiting) forever.
  if (!rec.fetchTimer) {
    rec.fetchTimer = loop_.after(options_.executorRegistrationTimeout, "agent.fetch_timeout",
                                 [this, f, e, c] {
      ExecutorRecord* x = findExecutor(f, e);
      if (!x || x->containerId != c || !x->preparing) return;
      x->fetchTimer = 0;
      x->preparing = false;
      if (x->fetcherPid > 0) killProcessGroup(x->fetcherPid, SIGKILL);  // reaped by its watch
      failPreparation(*x, "Fetching its URIs did not end within --executor_registration_timeout (" +
                              formatDuration(options_.executorRegistrationTimeout) + ")");
    });
  }
  // A cached URI that another task's fetcher is downloading right now: wait
  // for it, then copy it from the cache (a burst downloads it once).
  if (fetcherCache_->waitForFills(rec.uris, rec.fetchAs, [this, f, e, c, spec, taskResources] {
        ExecutorRecord* x = findExecutor(f, e);
        if (x && x->containerId == c && x->preparing) fetchThenStart(*x, spec, taskResources);
      })) {
    return;
  }
  // URIs with cache: true come from (or go to) the fetcher cache; the
  // entries stay held until this fetch ends, however it ends.
  auto plan = std::make_shared<fetcher::FetcherCache::Plan>(
      fetcherCache_->plan(rec.uris, rec.fetchAs));
  LaunchSpec fetch;
  fetch.argv = {options_.launcherDir + "/tutti-fetcher"};
  // Not the task's environment: the fetcher is ours. The URIs go in the
  // environment (only its user and root read it), not on its command line.
  const char* path = std::getenv("PATH");
  fetch.env = {"PATH=" + std::string(path ? path : "/usr/local/bin:/usr/bin:/bin"),
               "TUTTI_FETCHER_URIS=" + fetcher::itemsToJson(plan->items)};
  fetch.directory = rec.directory;
  fetch.sandboxOwner = rec.fetchAs;
  fetch.runAs = rec.fetchAs;  // the task's user: it reads only what that user may
  asyncLauncher_.launch(std::move(fetch), [this, alive = alive_, f, e, c, spec = std::move(spec),
                                           taskResources, plan](Result<pid_t> pid) mutable {
    if (!*alive) {
      if (pid.ok()) killProcessGroup(*pid, SIGKILL);
      return;
    }
    if (!pid.ok()) {
      fetcherCache_->release(plan->ticket, false);
      metrics_.counter("containerizer/fetcher/task_fetches_failed").inc();
      onFetched(f, e, c, std::move(spec), taskResources, std::nullopt, pid.error());
      return;
    }
    ExecutorRecord* x = findExecutor(f, e);
    if (x && x->containerId == c && x->preparing) {
      x->fetcherPid = *pid;
    } else {
      killProcessGroup(*pid, SIGKILL);  // shut down meanwhile; reaped below
    }
    auto done = [this, f, e, c, spec, taskResources, plan](pid_t,
                                                            std::optional<int> status) mutable {
      bool fetched = status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
      fetcherCache_->release(plan->ticket, fetched);
      metrics_
          .counter(fetched ? "containerizer/fetcher/task_fetches_succeeded"
                           : "containerizer/fetcher/task_fetches_failed")
          .inc();
      onFetched(f, e, c, std::move(spec), taskResources, status, "");
    };
    Status w = watcher_.watch(*pid, done);
    if (!w.ok()) {
      int st = 0;
      done(*pid, ::waitpid(*pid, &st, 0) == *pid ? std::optional<int>(st) : std::nullopt);
    }
  });
}

void Agent::onFetched(const FrameworkID& fwId, const ExecutorID& exId,
                      const ContainerID& containerId, LaunchSpec spec,
                      const Resources& taskResources, std::optional<int> status,
                      const std::string& launchError) {
  ExecutorRecord* ex = findExecutor(fwId, exId);
  if (!ex || ex->containerId != containerId) return;
  ex->fetcherPid = -1;
  if (ex->fetchTimer) loop_.cancel(ex->fetchTimer);
  ex->fetchTimer = 0;
  if (!ex->preparing) return;  // shut down while fetching: already reported
  ex->preparing = false;
  if (status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) {
    ex->uris.clear();  // fetched
    // The files the fetcher's user now owns are the sandbox's own (an
    // image task's executor is started with no owner otherwise).
    if (!spec.sandboxOwner) spec.sandboxOwner = ex->fetchAs;
    startExecutor(*ex, std::move(spec), taskResources);
    return;
  }
  std::string why = launchError;
  if (why.empty()) {
    // tutti-fetcher's last line in the sandbox's stderr says which URI and why.
    why = lastLineOfFile(ex->directory, "stderr", 1000);
    if (why.empty()) why = "tutti-fetcher " + (status ? describeWaitStatus(*status) : "failed");
  }
  failPreparation(*ex, why);
}

}  // namespace tutti::agent
