// Command-line flags (gflags), read in main.cpp only (DESIGN §10).
//
// parseFlags() parses argv; `--help` prints this binary's flags with their
// defaults and exits 0; an unknown flag or a value that fails validation
// prints a clear message and exits 1. Validators below are meant for
// DEFINE_validator so that bad values are caught at parse time.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace tutti {

void parseFlags(int* argc, char*** argv, const std::string& usage);
// The current values of this binary's own flags (for /flags endpoints).
std::map<std::string, std::string> currentFlags();

// gflags validators: print "Invalid value for --flag: why" and return false.
bool validateDurationFlag(const char* flag, const std::string& value);
// A size: 2GB, 512MB, 100B (common/bytes.hpp).
bool validateBytesFlag(const char* flag, const std::string& value);
bool validateResourcesFlag(const char* flag, const std::string& value);
// Alternatives separated by `|`, each resources (--min_allocatable_resources).
bool validateResourceAlternativesFlag(const char* flag, const std::string& value);
bool validateAttributesFlag(const char* flag, const std::string& value);
bool validatePortFlag(const char* flag, int32_t value);
// HOST:PORT or zk://HOST:PORT,.../PATH; empty allowed.
bool validateHostPortFlag(const char* flag, const std::string& value);

// Sets glog defaults suited to daemons started by hand: log to stderr unless
// --log_dir is given.
void initLogging(const char* argv0);

}  // namespace tutti
