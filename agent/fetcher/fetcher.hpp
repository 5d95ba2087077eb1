// The fetcher: puts a command's URIs (CommandInfo.uris) into its sandbox
// before the executor starts, as Mesos's mesos-fetcher does. It runs as its
// own process, tutti-fetcher (fetcher/main.cpp), with the task user's ids,
// so a file:// URI reads only what that user may read. Single-threaded.
#pragma once

#include <string>
#include <vector>

#include "common/clock.hpp"
#include "tutti/status.hpp"
#include "tutti/types.hpp"

namespace tutti::fetcher {

struct FetchOptions {
  Duration connectTimeout = 10s;
  Duration stallTimeout = 60s;  // no byte for this long: the download fails
  int maxRedirects = 5;
};

// One URI as the agent hands it to tutti-fetcher, with its place in the
// agent's fetcher cache (fetcher_cache.hpp) when it has one: `cacheFile`
// empty: fetched directly; `cached`: copied from `cacheFile` (a hit);
// otherwise downloaded (or copied) into `cacheFile` first, then from there
// into the sandbox (a miss). The sandbox's file is named after the URI
// either way, and made executable or unpacked as the URI says.
struct FetchItem {
  CommandURI uri;
  std::string cacheFile;
  bool cached = false;
};

// Fetches `uri` into `sandbox` (an absolute directory): downloads it
// (http://, https:// with the system's CAs), or copies it (file:///… or an
// absolute path), to its output_file or the URI's basename; then makes it
// executable (0755) or, when `extract` is set and the name is an archive,
// unpacks it into the sandbox (the archive stays). A destination through a
// symlink in the sandbox is refused. Returns the path written. Errors say which
// URI and why: NotFound (HTTP 404, no such file), PermissionDenied,
// Unavailable (connection, HTTP errors), InvalidArgument (a URI or name
// that cannot be fetched), IoError.
Result<std::string> fetchUri(const CommandURI& uri, const std::string& sandbox,
                             const FetchOptions& options = {});
// The same for an item (see FetchItem): errors about the cache file name it.
Result<std::string> fetchItem(const FetchItem& item, const std::string& sandbox,
                              const FetchOptions& options = {});

// Whether `name` is an archive fetchUri() unpacks: .tar, .tar.gz, .tgz,
// .tar.bz2, .tbz2, .tar.xz, .txz, .zip (into the directory), .gz (one file).
bool isArchive(const std::string& name);

// Unpacks archive `path` into directory `dir`. Only files, directories and
// links whose targets stay inside (relative, no "..") are unpacked, without
// set-id bits; entries that would land outside (absolute names, "..",
// through a symlink) or are anything else make it fail with
// InvalidArgument; what was unpacked before stays. Changes the working
// directory meanwhile: tutti-fetcher (one thread) only.
Status extractArchive(const std::string& path, const std::string& dir);

// The items as tutti-fetcher takes them (JSON): Mesos's URI objects, with
// "cache_file" and "cached" for the cache's.
std::string itemsToJson(const std::vector<FetchItem>& items);
Result<std::vector<FetchItem>> itemsFromJson(const std::string& text);

}  // namespace tutti::fetcher
