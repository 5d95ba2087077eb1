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

#include <string>

#include "tutti/status.hpp"

namespace tutti::agent::images {

enum class WhiteoutMode { kOverlay, kApply };

Status extractLayer(const std::string& archivePath, const std::string& destination,
                    WhiteoutMode mode);

}  // namespace tutti::agent::images
