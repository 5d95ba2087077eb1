// The version of this build of tutti (from CMake's project version).
#pragma once

namespace tutti {
const char* tuttiVersion();
}  // namespace tutti
