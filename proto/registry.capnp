# The master's registry: what must survive a master failover (DESIGN §7).
# Stored whole in <work_dir>/registry (local backend), or one znode per
# agent, framework and role, plus one for maintenance, under
# <zk path>/registry (zk backend).
@0x9bb1a376b5eb82ca;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("tutti::proto");

using T = import "types.capnp";

struct RegistryAgent {
  info @0 :T.AgentInfo;
  state @1 :State;
  # When it became unreachable (seconds since the epoch).
  unreachableTime @2 :Float64;

  enum State {
    admitted @0;
    unreachable @1;
    gone @2;
  }
}

struct RegistryFramework {
  info @0 :T.FrameworkInfo;
}

struct RegistryRole {
  role @0 :Text;
  hasWeight @1 :Bool;
  weight @2 :Float64;
  hasQuota @3 :Bool;
  guarantee @4 :List(T.Resource);
  limit @5 :List(T.Resource);
}

# Mesos's MachineID: a hostname (lower case), an IP, or both.
struct RegistryMachineId {
  hostname @0 :Text;
  ip @1 :Text;
}

struct RegistryMaintenanceWindow {
  machineIds @0 :List(RegistryMachineId);
  unavailability @1 :T.Unavailability;
}

struct RegistryMachine {
  id @0 :RegistryMachineId;
  mode @1 :Mode;

  enum Mode {
    up @0;
    draining @1;
    down @2;
  }
}

# The maintenance schedule and the mode of every machine in it.
struct RegistryMaintenance {
  windows @0 :List(RegistryMaintenanceWindow);
  machines @1 :List(RegistryMachine);
}

struct Registry {
  agents @0 :List(RegistryAgent);
  frameworks @1 :List(RegistryFramework);
  roles @2 :List(RegistryRole);
  maintenance @3 :RegistryMaintenance;
}
