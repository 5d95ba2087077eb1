// Unpacking image layers (tar, tar+gzip, tar+zstd: whatever libarchive
// reads) with Docker/OCI whiteouts.
//
// Two modes:
//  - kOverlay: the layer becomes an overlayfs lower directory of its own:
//    ".wh.NAME" becomes a 0/0 character device NAME (overlayfs's whiteout),
//    ".wh..wh..opq" marks its directory opaque (xattr trusted.overlay.opaque).
//  - kApply: the layer is applied on top of a root filesystem that already
//    holds the layers below it (the copy fallback when overlayfs is not
//    available): ".wh.NAME" deletes NAME, ".wh..wh..opq" deletes what lower
//    layers put in its directory.
//
// Entries are confined to `destination`: absolute names are made relative,
// names with ".." and links or paths through symlinks that would leave it
// are refused (the whole layer fails: InvalidArgument naming the entry).
// Blocking; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "tutti/status.hpp"

namespace tutti::agent::images {

enum class WhiteoutMode { kOverlay, kApply };

// What one archive may write: a small compressed layer must not fill the
// disk (a "gzip bomb") or the inode table. Past a limit the layer fails
// with InvalidArgument saying which.
struct ExtractLimits {
  uint64_t maxBytes = 32ull << 30;  // file contents written
  uint64_t maxEntries = 4'000'000;  // files, directories, links
};

// Only "user.*" extended attributes and file capabilities
// ("security.capability") are kept; trusted.*/other security.* ones an
// archive carries are dropped (they could mark directories opaque or label
// files for the host's LSM). File flags (immutable, append-only) are not
// applied: they would make the layer impossible to remove.
Status extractLayer(const std::string& archivePath, const std::string& destination,
                    WhiteoutMode mode, const ExtractLimits& limits = ExtractLimits());

}  // namespace tutti::agent::images
