// tutti-fetcher: fetches a command's URIs into the sandbox (its working
// directory), started by the agent before the executor, with the task
// user's ids. Progress goes to stderr (the sandbox's); on failure the last
// line says which URI and why, and it exits 1.
#include <gflags/gflags.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "agent/fetcher/fetcher.hpp"
#include "common/duration.hpp"

DEFINE_string(uris, "", "The URIs, as JSON: [{\"value\", \"executable\", \"extract\", "
                        "\"cache\", \"output_file\", \"cache_file\", \"cached\"}] (default: "
                        "$TUTTI_FETCHER_URIS, which the agent uses: not shown by ps)");
DEFINE_string(sandbox, "", "Directory to fetch into (default: the working directory)");
DEFINE_string(stall_timeout, "1mins", "A download that receives nothing this long fails");

int main(int argc, char** argv) {
  gflags::SetUsageMessage("tutti-fetcher --uris=JSON [--sandbox=DIR]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  std::string sandbox = FLAGS_sandbox;
  if (sandbox.empty()) {
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd)) {
      std::fprintf(stderr, "Failed to fetch: cannot read the working directory\n");
      return 1;
    }
    sandbox = cwd;
  }
  const char* fromEnv = std::getenv("TUTTI_FETCHER_URIS");
  auto items = tutti::fetcher::itemsFromJson(
      !FLAGS_uris.empty() ? FLAGS_uris : fromEnv ? std::string(fromEnv) : std::string("[]"));
  if (!items.ok()) {
    std::fprintf(stderr, "Failed to fetch: %s\n", items.error().c_str());
    return 1;
  }
  tutti::fetcher::FetchOptions options;
  auto stall = tutti::parseDuration(FLAGS_stall_timeout);
  if (stall.ok()) options.stallTimeout = *stall;
  for (const auto& item : *items) {
    const auto& u = item.uri;
    std::fprintf(stderr, item.cached ? "Fetching '%s' from the cache\n" : "Fetching '%s'\n",
                 u.value.c_str());
    auto path = tutti::fetcher::fetchItem(item, sandbox, options);
    if (!path.ok()) {
      std::fprintf(stderr, "Failed to fetch '%s': %s\n", u.value.c_str(), path.error().c_str());
      return 1;
    }
    std::fprintf(stderr, "Fetched '%s' to '%s'\n", u.value.c_str(), path->c_str());
  }
  return 0;
}
