// Placement constraints (Marathon's [field, operator, value]): whether an
// offer's agent may take one more instance of an app, given where the app's
// instances already are.
//
// The field is "hostname" or the name of an agent attribute. An agent
// without the attribute fails every operator but UNLIKE. Pure functions.
#pragma once

#include <string>
#include <vector>

#include "frameworks/services/app.hpp"
#include "tutti/types.hpp"

namespace tutti::services {

// Where an agent is: what constraints look at.
struct Placement {
  std::string hostname;
  Attributes attributes;
};

// True when one more instance may go to `candidate`, with the app's current
// instances at `existing` (one entry per instance).
bool meetsConstraints(const std::vector<Constraint>& constraints, const Placement& candidate,
                      const std::vector<Placement>& existing);

}  // namespace tutti::services
