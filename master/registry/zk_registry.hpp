// --registry=zk: the registry in ZooKeeper under `root` (the master's --zk
// path + "/registry"), using the election's ZooKeeper session, so that a
// master that lost its session can write nothing more.
#pragma once

#include <memory>
#include <string>

#include "master/registry/registry.hpp"

namespace tutti {
class ZooKeeper;
}

namespace tutti::master {

std::unique_ptr<Registry> makeZkRegistry(Loop& loop, ZooKeeper& zk, const std::string& root);

}  // namespace tutti::master
