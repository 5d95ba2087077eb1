// The JSON (and text) the REST API serves for apps, tasks and deployments,
// in Marathon's shapes. Pure functions of AppRecords; the API calls them
// under ServiceScheduler::read().
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "frameworks/services/app_record.hpp"

namespace tutti::services {

using AppMap = std::map<std::string, AppRecord>;

// An app with tasksRunning/Healthy/…, deployments, version; with tasks.
nlohmann::json appView(const AppRecord& app, bool withTasks);
nlohmann::json taskView(const AppRecord& app, const TaskRecord& task);
nlohmann::json tasksView(const AppMap& apps, const std::string& onlyApp = "");
nlohmann::json deploymentsView(const AppMap& apps);
nlohmann::json deploymentView(const std::string& appId, const Deployment& deployment);
// Marathon's text/plain task list for load balancers: one line per app and
// service port, "<app>\t<servicePort>\t<host>:<port>\t…".
std::string endpointsText(const AppMap& apps, const std::string& onlyApp = "");

}  // namespace tutti::services
