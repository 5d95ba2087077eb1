// The CLI's commands. Each takes the parsed command line, talks to the
// leading master (and agents, for sandboxes) over HTTP, prints to `out`,
// and returns an error Status that main() prints and turns into exit 1.
//
// Threads: the main thread; blocking.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/master_client.hpp"

namespace tutti::cli {

struct CommandLine {
  std::vector<std::string> args;              // after "<noun> <verb>"
  std::map<std::string, std::string> flags;   // --name=value (or "true")
  bool json = false;                          // --json: print the JSON as received
  bool has(const std::string& flag) const { return flags.count(flag) > 0; }
  std::optional<std::string> flag(const std::string& name) const;
};

struct Command {
  const char* noun;
  const char* verb;
  const char* usage;    // arguments and flags after "tutti NOUN VERB"
  const char* summary;  // one line for --help
  std::function<Status(MasterClient&, const CommandLine&, std::ostream&)> run;
};

// Every command, in --help order.
const std::vector<Command>& allCommands();

// cluster_commands.cpp
Status masterInfo(MasterClient& m, const CommandLine& c, std::ostream& out);
Status agentList(MasterClient& m, const CommandLine& c, std::ostream& out);
Status agentGone(MasterClient& m, const CommandLine& c, std::ostream& out);
Status frameworkList(MasterClient& m, const CommandLine& c, std::ostream& out);
Status frameworkTeardown(MasterClient& m, const CommandLine& c, std::ostream& out);
Status roleList(MasterClient& m, const CommandLine& c, std::ostream& out);
// volume_commands.cpp
Status volumeList(MasterClient& m, const CommandLine& c, std::ostream& out);
Status volumeDestroy(MasterClient& m, const CommandLine& c, std::ostream& out);
// task_commands.cpp
Status taskList(MasterClient& m, const CommandLine& c, std::ostream& out);
Status taskLog(MasterClient& m, const CommandLine& c, std::ostream& out);

}  // namespace tutti::cli
