// tutti: the operator CLI.
//
//   tutti [--master=HOST:PORT|zk://…/path] [--json] NOUN VERB [ARGS] [--FLAGS]
//
// --master is a master's HTTP address (default $TUTTI_MASTER, else
// 127.0.0.1:5050; a standby redirects to the leader) or the masters'
// ZooKeeper URL. Exit status: 0 done, 1 the command failed (the reason on
// stderr), 2 a usage error.
#include <glog/logging.h>

#include <cstdlib>
#include <iostream>

#include "cli/commands.hpp"

namespace tutti::cli {

std::optional<std::string> CommandLine::flag(const std::string& name) const {
  auto it = flags.find(name);
  if (it == flags.end()) return std::nullopt;
  return it->second;
}

const std::vector<Command>& allCommands() {
  static const std::vector<Command> commands = {
      {"master", "info", "", "the leading master: id, address, version, agents", masterInfo},
      {"agent", "list", "", "agents with their state and used/total resources", agentList},
      {"agent", "gone", "AGENT_ID",
       "mark an agent gone for good (its tasks end TASK_GONE_BY_OPERATOR)", agentGone},
      {"framework", "list", "[--all]", "frameworks (--all: completed ones too)", frameworkList},
      {"framework", "teardown", "FRAMEWORK_ID", "remove a framework and kill its tasks",
       frameworkTeardown},
      {"role", "list", "", "roles: weight, frameworks, allocation, reservations, quota",
       roleList},
      {"task", "list", "[--all]", "running tasks (--all: finished ones too)", taskList},
      {"task", "log", "TASK_ID [--stderr] [--lines=N]",
       "a task's stdout (or stderr) from its sandbox; --lines: the last N lines", taskLog},
      {"volume", "list", "", "persistent volumes: agent, role, id, path, size, labels",
       volumeList},
      {"volume", "destroy", "AGENT_ID PERSISTENCE_ID",
       "destroy a volume no task uses (its data is deleted)", volumeDestroy},
  };
  return commands;
}

namespace {
void usage(std::ostream& out) {
  out << "Usage: tutti [--master=HOST:PORT|zk://HOST:PORT,.../PATH] [--json] NOUN VERB [ARGS]\n"
         "\n"
         "  --master   a master's HTTP address (default: $TUTTI_MASTER, else 127.0.0.1:5050),\n"
         "             or the masters' ZooKeeper URL; standbys redirect to the leader\n"
         "  --json     print the master's JSON instead of a table\n"
         "  --timeout  how long to look for a leader in ZooKeeper (default 10 s), e.g. 5secs\n"
         "\n"
         "Commands:\n";
  for (const auto& c : allCommands()) {
    std::string head = std::string(c.noun) + " " + c.verb + " " + c.usage;
    out << "  tutti " << head << std::string(head.size() < 40 ? 40 - head.size() : 1, ' ')
        << c.summary << "\n";
  }
}

std::optional<std::chrono::milliseconds> parseTimeout(const std::string& text) {
  // 500ms, 10secs, 2mins (Mesos's forms), or plain seconds.
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || v < 0) return std::nullopt;
  std::string unit = end;
  double ms = unit == "ms" ? v : (unit.empty() || unit == "secs" || unit == "s") ? v * 1000
            : unit == "mins"                                                    ? v * 60000
                                                                                : -1;
  if (ms < 0) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}
}  // namespace

int run(int argc, char** argv) {
  CommandLine line;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help" || a == "help") {
      usage(std::cout);
      return 0;
    }
    if (a.rfind("--", 0) == 0 && a.size() > 2) {
      size_t eq = a.find('=');
      std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      line.flags[name] = eq == std::string::npos ? "true" : a.substr(eq + 1);
    } else {
      words.push_back(a);
    }
  }
  line.json = line.has("json");
  if (words.size() < 2) {
    usage(std::cerr);
    return 2;
  }
  const Command* command = nullptr;
  for (const auto& c : allCommands()) {
    if (words[0] == c.noun && words[1] == c.verb) command = &c;
  }
  if (!command) {
    std::cerr << "tutti: unknown command '" << words[0] << " " << words[1] << "'\n\n";
    usage(std::cerr);
    return 2;
  }
  line.args.assign(words.begin() + 2, words.end());
  std::string master = "127.0.0.1:5050";
  if (const char* env = std::getenv("TUTTI_MASTER"); env && *env) master = env;
  if (auto m = line.flag("master")) master = *m;
  std::chrono::milliseconds timeout(10000);
  if (auto t = line.flag("timeout")) {
    auto parsed = parseTimeout(*t);
    if (!parsed) {
      std::cerr << "tutti: bad --timeout '" << *t << "' (e.g. 500ms, 10secs)\n";
      return 2;
    }
    timeout = *parsed;
  }
  auto client = MasterClient::connect(master, timeout);
  if (!client.ok()) {
    std::cerr << "tutti: " << client.error() << "\n";
    return client.status().code() == Status::Code::kInvalidArgument ? 2 : 1;
  }
  Status s = command->run(*client, line, std::cout);
  if (!s.ok()) {
    std::cerr << "tutti: " << s.message() << "\n";
    return s.code() == Status::Code::kInvalidArgument && s.message().rfind("Expected", 0) == 0
               ? 2
               : 1;
  }
  return 0;
}

}  // namespace tutti::cli

int main(int argc, char** argv) {
  // Only errors from the libraries underneath (ZooKeeper detection), on
  // stderr: stdout is the command's output.
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = google::GLOG_ERROR;
  google::InitGoogleLogging(argv[0]);
  return tutti::cli::run(argc, argv);
}
