// Sandbox file access for /files/read, /files/browse and /files/download,
// with Mesos's semantics. Nothing outside a sandbox can be reached: a path is
// normalized lexically and then resolved (symlinks included), and both must
// lie inside one of the sandbox roots.
//
// Pure functions over the filesystem; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tutti/status.hpp"

namespace tutti::agent {

// `path` (absolute) resolved inside one of `roots`. PermissionDenied when
// it points outside every root, NotFound when it does not exist,
// InvalidArgument when it is empty or relative.
Result<std::string> resolveSandboxPath(const std::string& path,
                                       const std::vector<std::string>& roots);

// Reads up to `length` bytes at `offset` of a regular file. offset -1
// returns no data and the file's size as the offset (Mesos's "size" query).
struct FileChunk {
  std::string data;
  int64_t offset = 0;
};
Result<FileChunk> readFileChunk(const std::string& resolved, int64_t offset, size_t length);
// Opens a regular file for reading without blocking (a FIFO a task made in
// its sandbox is refused, not waited on) and without following symlinks.
// The caller owns the returned descriptor; `size` gets the file's size.
Result<int> openRegularFile(const std::string& resolved, uint64_t* size);

struct DirEntry {
  std::string path;
  int64_t size = 0;
  int64_t nlink = 0;
  double mtime = 0;
  std::string mode;  // "drwxr-xr-x"
  bool directory = false;
};
Result<std::vector<DirEntry>> listDirectory(const std::string& resolved);

// Lexical normalization: collapses `//`, `.` and `..` (never above `/`).
std::string normalizePath(const std::string& path);

}  // namespace tutti::agent
