// Small file helpers for on-disk state (the master's local registry, the
// agent's checkpoint). Any thread; errors come back as Status (IoError, or
// NotFound when the file does not exist).
#pragma once

#include <string>
#include <vector>

#include "tutti/status.hpp"

namespace tutti {

// Replaces `path` atomically: writes `<dir>/.<name>.tmp`, fsyncs it, renames
// it over `path` and fsyncs the directory. A crash leaves the old or the new
// content, never a mix. With `sync` false the fsyncs are skipped: the
// replacement is still atomic for readers and survives the writer's crash,
// but not a power loss.
Status writeFileAtomically(const std::string& path, const std::string& data, bool sync = true);

// The whole file; NotFound when it does not exist.
Result<std::string> readFile(const std::string& path);

// `mkdir -p`: creates `path` and whatever parents it lacks (0755); OK when it
// is already a directory, IoError naming the path when something else is in
// the way. Tries the deepest directory first (one mkdir when the parents exist).
Status makeDirectories(const std::string& path);

// Names in a directory (no "." or ".."); NotFound when it does not exist.
Result<std::vector<std::string>> listDirectory(const std::string& path);

// A role name as one path component (a file or znode name): `/` written
// `%2F` and `%` written `%25`, so that distinct roles never share a name.
std::string escapeRoleForPath(const std::string& role);

// Removes a file or a whole directory tree; OK when it does not exist.
Status removeTree(const std::string& path);

// The used fraction, in [0, 1], of the filesystem holding `path` (statvfs:
// blocks not available to unprivileged users count as used); 0 when it
// cannot be read.
double filesystemUsage(const std::string& path);

// The last line (at most `maxBytes` of it) of file `name` in directory
// `dir`, read safely although someone else may own the directory: no
// symlink followed, a plain singly linked file only, never blocking; ""
// otherwise (e.g. tutti-fetcher's last words in a sandbox's stderr).
std::string lastLineOfFile(const std::string& dir, const char* name, size_t maxBytes);

}  // namespace tutti
