// tutti-runtime: the agent's own OCI runtime for tasks in images — the
// command line of runc for what the executor uses (run, exec, delete,
// kill, state, list), written for start-up cost: one small static program
// that clones the container's init directly, where runc starts a Go
// runtime twice per container (docs/architecture.md, "tutti-runtime").
//
//   tutti-runtime [--root DIR] run [--detach] [--bundle DIR] [--pid-file FILE] ID
//   tutti-runtime [--root DIR] exec [--env K=V]... [--cwd DIR] ID PROGRAM [ARG]...
//   tutti-runtime [--root DIR] delete [--force] ID
//   tutti-runtime [--root DIR] kill ID [SIGNAL]
//   tutti-runtime [--root DIR] state ID
//   tutti-runtime [--root DIR] list
//
// Exit status: 0 on success; 1 with a message on stderr when something is
// refused or fails; `exec` and a foreground `run` exit as the process did
// (128 + the signal that ended it).
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "agent/runtime/container_init.hpp"
#include "agent/runtime/container_state.hpp"
#include "agent/runtime/runtime_config.hpp"

namespace tutti::runtime {
namespace {

constexpr const char* kVersion = "tutti-runtime 1.0 (OCI runtime-spec 1.0.2, the subset tutti's bundles use)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The bundle's config.json; a config it cannot read says which file.
Config loadConfig(const std::string& bundle) {
  try {
    return parseConfig(readFile(bundle + "/config.json"), bundle);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(bundle + "/config.json: " + e.what());
  }
}

std::string absolute(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) {
    throw std::runtime_error("cannot resolve " + path + ": " + std::strerror(errno));
  }
  return buf;
}

int signalNumber(const std::string& text) {
  static const std::map<std::string, int> names = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
      {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"STOP", SIGSTOP},
      {"CONT", SIGCONT}, {"ALRM", SIGALRM}, {"WINCH", SIGWINCH}};
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) {
    int n = std::atoi(text.c_str());
    if (n > 0 && n < NSIG) return n;
    return -1;
  }
  std::string name = text.rfind("SIG", 0) == 0 ? text.substr(3) : text;
  auto it = names.find(name);
  return it == names.end() ? -1 : it->second;
}

// Forwards the usual termination signals to the process we wait for.
pid_t g_forwardTo = -1;
void forward(int sig) {
  if (g_forwardTo > 0) ::kill(g_forwardTo, sig);
}
void forwardSignals(pid_t pid) {
  g_forwardTo = pid;
  struct sigaction sa = {};
  sa.sa_handler = forward;
  sa.sa_flags = SA_RESTART;
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) ::sigaction(s, &sa, nullptr);
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

int waitFor(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 1;
  }
  return exitCodeOf(status);
}

// What the child wrote before it failed; "" when it reached its execve.
std::string awaitExec(int readFd) {
  std::string message;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(readFd, buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    message.append(buf, static_cast<size_t>(n));
  }
  ::close(readFd);
  return message;
}

pid_t cloneProcess(int flags) {
  // fork() with namespace flags: no new stack, the child returns here.
  return static_cast<pid_t>(::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0));
}

void writePidFile(const std::string& path, pid_t pid) {
  std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::trunc);
  out << pid;
  out.close();
  if (!out || ::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot write the pid file " + path + ": " + std::strerror(errno));
  }
}

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string devicesCgroupFor(const Config& c, const std::string& id) {
  std::string own = ownDevicesCgroup();
  if (own.empty()) return "";
  std::string base = own;
  if (!c.cgroupsPath.empty() && c.cgroupsPath[0] == '/') {
    // Absolute: under the hierarchy's mount point.
    auto cut = own.find("/devices");
    base = cut == std::string::npos ? own : own.substr(0, cut + 8);
    return base + c.cgroupsPath;
  }
  std::string name = c.cgroupsPath.empty() ? "tutti-runtime-" + id : c.cgroupsPath;
  if (name.find("..") != std::string::npos) throw std::runtime_error("linux.cgroupsPath has '..'");
  return base + "/" + name;
}

// Compiled seccomp filters (seccomp_filter.hpp), beside the containers'
// records; a dot name is never a container id.
std::string seccompCache(const StateDir& states) {
  std::string dir = states.root() + "/.seccomp";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return "";
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() ||
      (st.st_mode & 077) != 0) {
    return "";  // not ours alone: compile every time
  }
  return dir;
}

// Global options.
struct Globals {
  // --no-devices-cgroup: no cgroups v1 devices cgroup even where the host
  // has the controller (as on a pure v2 host): the container then gets no
  // CAP_MKNOD and nodev mounts instead.
  bool devicesCgroup = true;
};

int run(const StateDir& states, const Globals& globals, std::vector<std::string> args) {
  bool detach = false;
  std::string bundle = ".", pidFile, id;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    if (a == "--detach" || a == "-d") {
      detach = true;
    } else if (a == "--bundle" || a == "-b") {
      bundle = value();
    } else if (a == "--pid-file") {
      pidFile = value();
    } else if (a.rfind("--bundle=", 0) == 0) {
      bundle = a.substr(9);
    } else if (a.rfind("--pid-file=", 0) == 0) {
      pidFile = a.substr(11);
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError("run: unknown option " + a);
    } else if (id.empty()) {
      id = a;
    } else {
      throw UsageError("run: one container id, not '" + a + "'");
    }
  }
  if (!validContainerId(id)) throw UsageError("run: a container id of letters, digits, '-', '_' and '.'");
  bundle = absolute(bundle);
  Config config = loadConfig(bundle);
  if (!states.claim(id)) throw std::runtime_error("container " + id + " already exists");
  ContainerState state;
  state.id = id;
  state.bundle = bundle;
  state.createdUnixMs = nowUnixMs();
  auto undo = [&] {
    removeDevicesCgroup(state.devicesCgroup, 1000);
    states.remove(id);
  };
  InitOptions options;
  SeccompProgram seccomp;
  int sync[2];
  try {
    if (config.seccomp) {
      seccomp = compileSeccomp(*config.seccomp, seccompCache(states));
      options.seccomp = &seccomp;
    }
    state.devicesCgroup = globals.devicesCgroup ? devicesCgroupFor(config, id) : "";
    if (::pipe2(sync, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  } catch (...) {
    undo();
    throw;
  }
  options.devicesCgroup = state.devicesCgroup;
  options.dropMknod = state.devicesCgroup.empty();
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0) {
    int e = errno;
    undo();
    throw std::runtime_error(std::string("pipe: ") + std::strerror(e));
  }
  options.goFd = go[0];
  pid_t pid = cloneProcess(config.namespaces);
  if (pid < 0) {
    int e = errno;
    undo();
    throw std::runtime_error(std::string("cannot create the container's namespaces: ") + std::strerror(e));
  }
  if (pid == 0) {
    ::close(sync[0]);
    ::close(go[1]);
    runContainerInit(config, options, sync[1]);
  }
  ::close(sync[1]);
  ::close(go[0]);
  // An init that died before reading its go byte must fail this run (and
  // undo it), not kill it with SIGPIPE (set after the clone: the container
  // keeps the default).
  ::signal(SIGPIPE, SIG_IGN);
  if (!detach) forwardSignals(pid);
  // Recorded (with the devices cgroup it is about to join) before it may
  // do anything: delete finds and kills it even if this process dies now.
  state.pid = pid;
  state.startTime = processStartTime(pid);
  std::string failure;
  try {
    states.save(state);
    if (!state.devicesCgroup.empty()) makeDevicesCgroup(state.devicesCgroup, config.devices);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (failure.empty() && ::write(go[1], "g", 1) != 1) failure = std::string("go: ") + std::strerror(errno);
  ::close(go[1]);
  if (failure.empty()) failure = awaitExec(sync[0]);
  if (!failure.empty()) {
    ::kill(pid, SIGKILL);
    waitFor(pid);
    undo();
    // A cached program the kernel refused is not used again.
    if (failure.find("seccomp: cannot load") != std::string::npos && !seccomp.cachePath.empty()) {
      ::unlink(seccomp.cachePath.c_str());
    }
    throw std::runtime_error("container " + id + ": " + failure);
  }
  state.started = true;
  states.save(state);
  if (!pidFile.empty()) writePidFile(pidFile, pid);
  if (detach) return 0;
  int code = waitFor(pid);
  removeDevicesCgroup(state.devicesCgroup, 1000);
  states.remove(id);
  return code;
}

ContainerState mustLoad(const StateDir& states, const std::string& id) {
  if (!validContainerId(id)) throw UsageError("no valid container id given");
  auto s = states.load(id);
  if (!s) throw std::runtime_error("container " + id + " does not exist");
  return *s;
}

int exec(const StateDir& states, std::vector<std::string> args) {
  std::vector<std::string> env;
  std::string cwd, id;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--env" || a == "-e") {
      if (i + 1 >= args.size()) throw UsageError("--env needs NAME=VALUE");
      env.push_back(args[++i]);
    } else if (a == "--cwd") {
      if (i + 1 >= args.size()) throw UsageError("--cwd needs a directory");
      cwd = args[++i];
    } else if (a == "--") {
      continue;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError("exec: unknown option " + a);
    } else {
      id = a;
      ++i;
      break;
    }
  }
  if (i < args.size() && args[i] == "--") ++i;
  if (i >= args.size()) throw UsageError("exec: a program to run is required");
  ContainerState s = mustLoad(states, id);
  int init = openInit(s);
  if (init < 0) throw std::runtime_error("container " + id + " is not running");
  Config config = loadConfig(s.bundle);
  config.args.assign(args.begin() + static_cast<long>(i), args.end());
  for (const auto& kv : env) {
    if (kv.find('=') == std::string::npos || kv[0] == '=') {
      throw UsageError("exec: --env takes NAME=VALUE, not '" + kv + "'");
    }
    auto name = kv.substr(0, kv.find('=') + 1);
    std::erase_if(config.env, [&](const std::string& e) { return e.rfind(name, 0) == 0; });
    config.env.push_back(kv);
  }
  if (!cwd.empty()) config.cwd = cwd;
  // The namespaces, opened while the init is known to be the container's;
  // the mount namespace last (it moves our root into the container).
  std::vector<std::pair<int, int>> namespaces;
  const std::pair<int, const char*> order[] = {
      {CLONE_NEWIPC, "ipc"}, {CLONE_NEWUTS, "uts"},       {CLONE_NEWNET, "net"},
      {CLONE_NEWPID, "pid"}, {CLONE_NEWCGROUP, "cgroup"}, {CLONE_NEWNS, "mnt"}};
  for (const auto& [flag, name] : order) {
    if (!(config.namespaces & flag)) continue;
    std::string path = "/proc/" + std::to_string(s.pid) + "/ns/" + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    namespaces.emplace_back(fd, flag);
  }
  struct pollfd pfd = {init, POLLIN, 0};
  if (::poll(&pfd, 1, 0) > 0) throw std::runtime_error("container " + id + " is not running");
  InitOptions options;
  options.dropMknod = s.devicesCgroup.empty();
  SeccompProgram seccomp;
  if (config.seccomp) {
    seccomp = compileSeccomp(*config.seccomp, seccompCache(states));
    options.seccomp = &seccomp;
  }
  if (!s.devicesCgroup.empty()) {
    std::ofstream procs(s.devicesCgroup + "/cgroup.procs");
    procs << "0";
    procs.close();
    if (!procs) throw std::runtime_error("cannot join " + s.devicesCgroup);
  }
  for (const auto& [fd, flag] : namespaces) {
    if (::setns(fd, flag) != 0) {
      throw std::runtime_error("cannot join the container's namespaces: " + std::string(std::strerror(errno)));
    }
    ::close(fd);
  }
  int sync[2], go[2];
  if (::pipe2(sync, O_CLOEXEC) != 0 || ::pipe2(go, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  options.goFd = go[0];
  pid_t pid = cloneProcess(0);
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(sync[0]);
    ::close(go[1]);
    runExecProcess(config, options, sync[1]);
  }
  ::close(sync[1]);
  ::close(go[0]);
  ::signal(SIGPIPE, SIG_IGN);
  forwardSignals(pid);
  // The child goes on once its death signal is armed and we are still here.
  std::string failure = ::write(go[1], "g", 1) == 1 ? "" : std::string("go: ") + std::strerror(errno);
  ::close(go[1]);
  if (failure.empty()) failure = awaitExec(sync[0]);
  if (!failure.empty()) {
    waitFor(pid);
    throw std::runtime_error("exec in " + id + ": " + failure);
  }
  return waitFor(pid);
}

int remove(const StateDir& states, std::vector<std::string> args) {
  bool force = false;
  std::string id;
  for (const auto& a : args) {
    if (a == "--force" || a == "-f") {
      force = true;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError("delete: unknown option " + a);
    } else {
      id = a;
    }
  }
  ContainerState s = mustLoad(states, id);
  int init = openInit(s);
  if (init >= 0) {
    if (!force) {
      throw std::runtime_error("cannot delete container " + id + ": it is running (use --force)");
    }
    ::syscall(SYS_pidfd_send_signal, init, SIGKILL, nullptr, 0);
    struct pollfd pfd = {init, POLLIN, 0};
    ::poll(&pfd, 1, 10000);  // readable when it has exited
    ::close(init);
  }
  if (!removeDevicesCgroup(s.devicesCgroup, 2000)) {
    // Processes are still in it: the record stays, for a later delete.
    throw std::runtime_error("cannot remove " + s.devicesCgroup + " of container " + id + ": " +
                             std::strerror(errno));
  }
  states.remove(id);
  return 0;
}

int killContainer(const StateDir& states, std::vector<std::string> args) {
  if (args.empty() || args.size() > 2) throw UsageError("kill ID [SIGNAL]");
  int sig = args.size() == 2 ? signalNumber(args[1]) : SIGTERM;
  if (sig < 0) throw UsageError("kill: unknown signal " + args[1]);
  ContainerState s = mustLoad(states, args[0]);
  int init = openInit(s);
  if (init < 0) throw std::runtime_error("container " + args[0] + " is not running");
  int rc = static_cast<int>(::syscall(SYS_pidfd_send_signal, init, sig, nullptr, 0));
  int e = errno;
  ::close(init);
  if (rc != 0) throw std::runtime_error(std::string("kill: ") + std::strerror(e));
  return 0;
}

nlohmann::json describe(const ContainerState& s) {
  int init = openInit(s);
  std::string status = !s.started && init >= 0 ? "creating"
                       : init >= 0                ? "running"
                                                  : "stopped";
  if (init >= 0) ::close(init);
  return {{"ociVersion", "1.0.2"}, {"id", s.id},         {"status", status},
          {"pid", s.pid},          {"bundle", s.bundle}, {"created", s.createdUnixMs}};
}

int state(const StateDir& states, std::vector<std::string> args) {
  if (args.size() != 1) throw UsageError("state ID");
  std::cout << describe(mustLoad(states, args[0])).dump(2) << "\n";
  return 0;
}

int list(const StateDir& states) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& id : states.list()) {
    if (auto s = states.load(id)) out.push_back(describe(*s));
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

void usage(std::ostream& out) {
  out << "usage: tutti-runtime [--root DIR] COMMAND ...\n"
         "  run [--detach] [--bundle DIR] [--pid-file FILE] ID\n"
         "  exec [--env NAME=VALUE]... [--cwd DIR] ID PROGRAM [ARG]...\n"
         "  delete [--force] ID\n"
         "  kill ID [SIGNAL]\n"
         "  state ID\n"
         "  list\n"
         "--root: where containers' state is kept (default /run/tutti-runtime)\n"
         "--no-devices-cgroup: guard device nodes without a cgroups v1 devices cgroup (as\n"
         "  on a pure v2 host): no CAP_MKNOD, the root filesystem and bind mounts nodev\n";
}

// runc's CVE-2019-5736: a process of a container that gets hold of
// /proc/<pid>/exe of a runtime process — catching one on its way into the
// container, or running `#!/proc/self/exe` so that the kernel starts the
// runtime's own binary as its interpreter — could write to the host's
// binary once no runtime runs. `run` and `exec` therefore re-execute
// themselves from a sealed copy in memory (memfd, F_SEAL_WRITE): every
// runtime process that meets a container has that copy as its executable,
// which no one can write. Returns when already running from one; exits 1
// rather than run unprotected.
//
// Started through a read-only mount (the agent runs it from a read-only
// bind mount of itself: oci_containerizer.cpp), the binary is already out
// of reach — a write through that mount fails — and the copy is skipped.
void runFromSealedCopy(char** argv) {
  struct statvfs mounted;
  if (::statvfs("/proc/self/exe", &mounted) == 0 && (mounted.f_flag & ST_RDONLY)) return;
  constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  int self = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self >= 0 && ::fcntl(self, F_GET_SEALS) == kSeals) {
    ::close(self);
    return;
  }
  auto fail = [](const char* what) {
    std::cerr << "tutti-runtime: cannot run from a sealed copy of itself (" << what
              << "): " << std::strerror(errno) << "\n";
    std::exit(1);
  };
  if (self < 0) fail("open /proc/self/exe");
  struct stat st;
  if (::fstat(self, &st) != 0) fail("fstat");
  int copy = ::memfd_create("tutti-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (copy < 0) fail("memfd_create");
  for (off_t left = st.st_size; left > 0;) {
    ssize_t n = ::sendfile(copy, self, nullptr, static_cast<size_t>(left));
    if (n <= 0) fail("copy");
    left -= n;
  }
  ::close(self);
  if (::fcntl(copy, F_ADD_SEALS, kSeals) != 0) fail("seal");
  ::fexecve(copy, argv, environ);
  fail("execute");
}

int runMain(int argc, char** argv) {
  // Not dumpable, nor the processes it clones until their execve (see
  // runFromSealedCopy): a container's process cannot open their
  // /proc/<pid>/exe either.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  for (int a = 1; a < argc; ++a) {
    std::string word = argv[a];
    if (word == "run" || word == "exec") {
      runFromSealedCopy(argv);
      break;
    }
    if (word == "--root") ++a;  // its value
    else if (word.empty() || word[0] != '-') break;  // another command
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string root = "/run/tutti-runtime";
  Globals globals;
  size_t i = 0;
  try {
    for (; i < args.size() && !args[i].empty() && args[i][0] == '-'; ++i) {
      const std::string& a = args[i];
      if (a == "--root") {
        if (i + 1 >= args.size()) throw UsageError("--root needs a directory");
        root = args[++i];
      } else if (a == "--no-devices-cgroup") {
        globals.devicesCgroup = false;
      } else if (a.rfind("--root=", 0) == 0) {
        root = a.substr(7);
      } else if (a == "--version" || a == "-v") {
        std::cout << kVersion << "\n";
        return 0;
      } else if (a == "--help" || a == "-h") {
        usage(std::cout);
        return 0;
      } else {
        throw UsageError("unknown option " + a);
      }
    }
    if (i >= args.size()) throw UsageError("a command is required");
    std::string command = args[i];
    std::vector<std::string> rest(args.begin() + static_cast<long>(i) + 1, args.end());
    StateDir states(root);
    if (command == "run") return run(states, globals, rest);
    if (command == "exec") return exec(states, rest);
    if (command == "delete") return remove(states, rest);
    if (command == "kill") return killContainer(states, rest);
    if (command == "state") return state(states, rest);
    if (command == "list") return list(states);
    throw UsageError("unknown command " + command);
  } catch (const UsageError& e) {
    std::cerr << "tutti-runtime: " << e.what() << "\n";
    usage(std::cerr);
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "tutti-runtime: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace
}  // namespace tutti::runtime

int main(int argc, char** argv) { return tutti::runtime::runMain(argc, argv); }
