// Table: the CLI's column output, aligned with two spaces between columns,
// as `kubectl get` and `nomad status` print.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tutti::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  // Missing cells print empty; extra cells are dropped.
  void add(std::vector<std::string> row);
  size_t size() const { return rows_.size(); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// 1.5 -> "1.5", 2 -> "2", 0.125 -> "0.125" (at most three decimals).
std::string formatNumber(double value);

}  // namespace tutti::cli
