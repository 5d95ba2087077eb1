// tutti-local: a master and N agents in one process on loopback — the
// embedded default for one machine, the demo, and people who want a cluster
// without running three daemons. The master takes --port/--message_port
// (5050/6050); agents take the next free ports after them.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>

#include <optional>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <ctime>
#include <iostream>
#include <memory>

#include "common/process.hpp"
#include "agent/agent_daemon.hpp"
#include "agent/resources_detect.hpp"
#include "common/duration.hpp"
#include "common/flags.hpp"
#include "master/master_daemon.hpp"

DEFINE_int32(num_agents, 2, "Number of agents to run");
DEFINE_string(ip, "127.0.0.1", "IP address for the master and agents");
DEFINE_int32(port, 5050, "The master's HTTP port");
DEFINE_int32(message_port, 6050, "The master's message port");
DEFINE_string(work_dir, "", "Directory for agents' sandboxes (default: /tmp/tutti-local-<pid>)");
DEFINE_string(resources, "",
              "Resources of each agent (default: this machine's, divided among the agents)");
DEFINE_string(attributes, "", "Attributes of each agent; 'agent:<i>' is added");

DEFINE_validator(port, &tutti::validatePortFlag);
DEFINE_validator(message_port, &tutti::validatePortFlag);
DEFINE_validator(resources, &tutti::validateResourcesFlag);
DEFINE_validator(attributes, &tutti::validateAttributesFlag);

namespace {
bool validateAgents(const char* flag, int32_t v) {
  if (v < 0 || v > 1000) {
    std::cerr << "Invalid value for --" << flag << ": " << v << " (0 to 1000)\n";
    return false;
  }
  return true;
}

bool portFree(const std::string& ip, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

int nextFreePort(const std::string& ip, int& from) {
  while (from < 65535 && !portFree(ip, from)) ++from;
  return from++;
}
}  // namespace
DEFINE_validator(num_agents, &validateAgents);

int main(int argc, char** argv) {
  tutti::parseFlags(&argc, &argv,
                    "tutti-local: a tutti master and N agents in one process, on this machine.");
  tutti::initLogging(argv[0]);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::string workDir =
      FLAGS_work_dir.empty() ? "/tmp/tutti-local-" + std::to_string(::getpid()) : FLAGS_work_dir;

  tutti::master::MasterOptions mo;
  mo.ip = FLAGS_ip;
  mo.port = FLAGS_port;
  mo.messagePort = FLAGS_message_port;
  tutti::master::MasterDaemon master(mo);
  tutti::Status s = master.start(tutti::currentFlags());
  if (!s.ok()) {
    LOG(ERROR) << "Cannot start the master: " << s;
    return 1;
  }

  std::string resources = FLAGS_resources;
  if (resources.empty() && FLAGS_num_agents > 0) {
    auto detected = tutti::agent::agentResources("", workDir.substr(0, workDir.rfind('/')));
    int n = FLAGS_num_agents;
    double cpus = std::max(0.5, std::floor(detected->scalar("cpus") / n * 10) / 10);
    double mem = std::floor(detected->scalar("mem") / n);
    double disk = std::floor(detected->scalar("disk") / n);
    char buf[160];
    std::snprintf(buf, sizeof(buf), "cpus:%g;mem:%.0f;disk:%.0f", cpus, mem, disk);
    resources = buf;
  }

  std::vector<std::unique_ptr<tutti::agent::AgentDaemon>> agents;
  int httpFrom = master.httpPort() + 1;
  int messageFrom = master.messagePort() + 1;
  for (int i = 0; i < FLAGS_num_agents; ++i) {
    tutti::agent::AgentOptions ao;
    ao.master = master.messageAddress();
    ao.ip = FLAGS_ip;
    ao.port = nextFreePort(FLAGS_ip, httpFrom);
    ao.messagePort = nextFreePort(FLAGS_ip, messageFrom);
    ao.workDir = workDir + "/agent-" + std::to_string(i);
    ao.resources = resources;
    // Ports must not overlap between agents on one host: each gets its own
    // thousand, unless --resources names the ports itself.
    auto parsed = tutti::Resources::parse(resources);
    if (parsed.ok() && parsed->ports().empty()) {
      ao.resources += ";ports:[" + std::to_string(31000 + i * 1000) + "-" +
                      std::to_string(31000 + i * 1000 + 999) + "]";
    }
    ao.attributes = FLAGS_attributes.empty() ? "agent:" + std::to_string(i)
                                             : FLAGS_attributes + ";agent:" + std::to_string(i);
    ao.registrationBackoffFactor = std::chrono::milliseconds(100);
    auto agent = std::make_unique<tutti::agent::AgentDaemon>(ao);
    s = agent->start(tutti::currentFlags());
    if (!s.ok()) {
      LOG(ERROR) << "Cannot start agent " << i << ": " << s;
      return 1;
    }
    std::cout << "agent " << i << ": http://" << FLAGS_ip << ":" << agent->httpPort() << "/state"
              << std::endl;
    agents.push_back(std::move(agent));
  }
  std::cout << "tutti-local: master http://" << FLAGS_ip << ":" << master.httpPort()
            << "/master/state, --master=" << master.messageAddress() << ", "
            << FLAGS_num_agents << " agents, sandboxes in " << workDir << std::endl;

  // Until a signal, or until a part cannot go on (an agent whose work dir
  // holds another agent's checkpoint, say): then all stop, exit 1.
  std::string fatal;
  int sig = tutti::waitForSignalOrFatal(
      set,
      [&]() -> std::optional<std::string> {
        if (auto f = master.fatalError()) return "the master: " + *f;
        for (size_t i = 0; i < agents.size(); ++i) {
          if (auto f = agents[i]->fatalError()) return "agent " + std::to_string(i) + ": " + *f;
        }
        return std::nullopt;
      },
      &fatal);
  if (sig == 0) {
    LOG(ERROR) << "Exiting: " << fatal;
    std::cerr << "tutti-local: " << fatal << std::endl;
  } else {
    LOG(INFO) << "Received signal " << sig << "; stopping agents (and their tasks) and the master";
  }
  for (auto& a : agents) a->stop(/*killExecutors=*/true);
  master.stop();
  return sig == 0 ? 1 : 0;
}
