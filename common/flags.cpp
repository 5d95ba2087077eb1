#include "common/flags.hpp"

#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "common/bytes.hpp"
#include "common/duration.hpp"
#include "common/transport.hpp"
#include "common/zookeeper.hpp"
#include "tutti/resources.hpp"
#include "tutti/types.hpp"

DECLARE_bool(help);
DECLARE_bool(helpfull);
DECLARE_bool(helpshort);
DECLARE_bool(version);

#ifndef TUTTI_SOURCE_DIR
#define TUTTI_SOURCE_DIR ""
#endif

namespace tutti {

namespace {
void printHelp(const char* argv0, const std::string& usage) {
  std::vector<gflags::CommandLineFlagInfo> all;
  gflags::GetAllFlags(&all);
  std::string src = TUTTI_SOURCE_DIR;
  std::cout << "Usage: " << argv0 << " [flags]\n\n" << usage << "\n\nFlags:\n";
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& f : all) {
    bool ours = !src.empty() && f.filename.rfind(src, 0) == 0;
    if (!ours) continue;
    std::string def = f.default_value;
    if (f.type == "string") def = "\"" + def + "\"";
    std::cout << "  --" << f.name << "=" << def << "\n      " << f.description << "\n";
  }
  std::cout << "\nLogging flags from glog are accepted too: --v=N, --logtostderr, "
               "--log_dir=DIR, --minloglevel=N.\n";
}
}  // namespace

void parseFlags(int* argc, char*** argv, const std::string& usage) {
  gflags::SetUsageMessage(usage);
  gflags::SetVersionString(TUTTI_VERSION_STRING);
  gflags::ParseCommandLineNonHelpFlags(argc, argv, true);
  if (FLAGS_help || FLAGS_helpfull || FLAGS_helpshort) {
    printHelp((*argv)[0], usage);
    std::exit(0);
  }
  if (FLAGS_version) {
    std::cout << (*argv)[0] << " " << TUTTI_VERSION_STRING << "\n";
    std::exit(0);
  }
  if (*argc > 1) {
    std::cerr << "Unexpected argument '" << (*argv)[1] << "' (flags look like --name=value; "
              << "see --help)\n";
    std::exit(1);
  }
}

std::map<std::string, std::string> currentFlags() {
  std::vector<gflags::CommandLineFlagInfo> all;
  gflags::GetAllFlags(&all);
  std::string src = TUTTI_SOURCE_DIR;
  std::map<std::string, std::string> out;
  for (const auto& f : all) {
    if (!src.empty() && f.filename.rfind(src, 0) == 0) out[f.name] = f.current_value;
  }
  return out;
}

bool validateDurationFlag(const char* flag, const std::string& value) {
  auto d = parseDuration(value);
  if (!d.ok()) {
    std::fprintf(stderr, "Invalid value for --%s: %s\n", flag, d.error().c_str());
    return false;
  }
  return true;
}

bool validateBytesFlag(const char* flag, const std::string& value) {
  auto b = parseBytes(value);
  if (!b.ok()) {
    std::fprintf(stderr, "Invalid value for --%s: %s\n", flag, b.error().c_str());
    return false;
  }
  return true;
}

bool validateResourcesFlag(const char* flag, const std::string& value) {
  if (value.empty()) return true;
  auto r = Resources::parse(value);
  if (!r.ok()) {
    std::fprintf(stderr, "Invalid value for --%s: %s\n", flag, r.error().c_str());
    return false;
  }
  return true;
}

bool validateResourceAlternativesFlag(const char* flag, const std::string& value) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find('|', start);
    if (end == std::string::npos) end = value.size();
    if (!validateResourcesFlag(flag, value.substr(start, end - start))) return false;
    start = end + 1;
  }
  return true;
}

bool validateAttributesFlag(const char* flag, const std::string& value) {
  auto r = parseAttributes(value);
  if (!r.ok()) {
    std::fprintf(stderr, "Invalid value for --%s: %s\n", flag, r.error().c_str());
    return false;
  }
  return true;
}

bool validatePortFlag(const char* flag, int32_t value) {
  if (value < 0 || value > 65535) {
    std::fprintf(stderr, "Invalid value for --%s: %d is not a port (0-65535)\n", flag, value);
    return false;
  }
  return true;
}

bool validateHostPortFlag(const char* flag, const std::string& value) {
  if (value.empty()) return true;
  if (value.rfind("zk://", 0) == 0) {
    auto url = ZooKeeper::parseUrl(value);
    if (!url.ok()) std::fprintf(stderr, "Invalid value for --%s: %s\n", flag, url.error().c_str());
    return url.ok();
  }
  auto r = toZmqEndpoint(value);
  if (!r.ok()) {
    std::fprintf(stderr, "Invalid value for --%s: %s\n", flag, r.error().c_str());
    return false;
  }
  return true;
}

void initLogging(const char* argv0) {
  if (FLAGS_log_dir.empty()) FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv0);
  google::InstallFailureSignalHandler();
}

}  // namespace tutti

namespace tutti {
const char* tuttiVersion() { return TUTTI_VERSION_STRING; }
}  // namespace tutti
