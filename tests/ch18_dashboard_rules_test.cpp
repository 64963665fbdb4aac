// Chapter 18 — the dashboard's figures without a server: /proc/stat,
// /proc/meminfo and /proc/loadavg as text (examples/dashboard/metrics.h),
// the "sample" JSON of docs/protocols.md, and the real files of this machine.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "dashboard/metrics.h"

namespace dashboard {
namespace {

using nlohmann::json;

// A /proc/stat as Linux 6.1 writes it (first lines).
constexpr const char* kProcStat =
    "cpu  100 20 30 800 50 5 5 0 0 0\n"
    "cpu0 50 10 15 400 25 2 3 0 0 0\n"
    "intr 12345 0 0\n";

TEST(Ch18_DashboardCpu, ReadsTheAggregateLine) {
  const auto times = parse_proc_stat(kProcStat);
  ASSERT_TRUE(times.has_value());
  EXPECT_EQ(times->busy, 100u + 20 + 30 + 5 + 5 + 0) << "user+nice+system+irq+softirq+steal";
  EXPECT_EQ(times->total, times->busy + 800 + 50) << "plus idle and iowait";
}

TEST(Ch18_DashboardCpu, BusyShareIsTheDifferenceOfTwoReadings) {
  const CpuTimes before{100, 1000}, after{175, 1100};
  EXPECT_DOUBLE_EQ(cpu_busy(before, after), 0.75) << "75 busy ticks out of 100";
  EXPECT_DOUBLE_EQ(cpu_busy(after, after), 0.0) << "no tick passed: 0, not a division by zero";
  EXPECT_DOUBLE_EQ(cpu_busy(after, before), 0.0) << "a counter that went back (a new boot?)";
}

TEST(Ch18_DashboardCpu, RefusesWhatIsNotProcStat) {
  EXPECT_FALSE(parse_proc_stat("").has_value());
  EXPECT_FALSE(parse_proc_stat("cpu0 1 2 3 4 5 6 7 8\n").has_value()) << "not the aggregate";
  EXPECT_FALSE(parse_proc_stat("cpu  1 2 3\n").has_value()) << "too few fields";
}

TEST(Ch18_DashboardMemory, UsedIsTotalMinusAvailableInBytes) {
  const auto memory = parse_meminfo(
      "MemTotal:       16000000 kB\n"
      "MemFree:         1000000 kB\n"
      "MemAvailable:   12000000 kB\n"
      "HugePages_Total:       0\n");
  ASSERT_TRUE(memory.has_value());
  EXPECT_EQ(memory->total, 16000000ull * 1024);
  EXPECT_EQ(memory->used, 4000000ull * 1024) << "MemFree is not what programs can get back";
}

TEST(Ch18_DashboardMemory, RefusesAFileWithoutMemAvailable) {
  EXPECT_FALSE(parse_meminfo("MemTotal: 100 kB\nMemFree: 50 kB\n").has_value());
  EXPECT_FALSE(parse_meminfo("MemTotal: 100 kB\nMemAvailable: 200 kB\n").has_value())
      << "more available than there is: a broken file";
}

TEST(Ch18_DashboardLoad, ReadsTheOneMinuteLoad) {
  EXPECT_EQ(parse_loadavg("0.52 0.58 0.59 1/467 12345\n"), 0.52);
  EXPECT_FALSE(parse_loadavg("").has_value());
}

TEST(Ch18_DashboardProc, ThisMachinesFilesParse) {
  EXPECT_TRUE(parse_proc_stat(read_file("/proc/stat")).has_value()) << "proc(5): /proc/stat";
  const auto memory = parse_meminfo(read_file("/proc/meminfo"));
  ASSERT_TRUE(memory.has_value()) << "proc(5): /proc/meminfo has MemAvailable since Linux 3.14";
  EXPECT_GT(memory->total, 0u);
  EXPECT_LE(memory->used, memory->total);
  EXPECT_TRUE(parse_loadavg(read_file("/proc/loadavg")).has_value());
}

TEST(Ch18_DashboardSample, HasEveryDocumentedField) {
  Sample s;
  s.ts = 1700000000000;
  s.cpu = 0.25;
  s.mem_used = 1;
  s.mem_total = 2;
  s.load1 = 0.5;
  s.connections = 3;
  s.messages_per_s = 4;
  s.bytes_out_per_s = 5;
  s.host = "box";
  s.pid = 42;
  EXPECT_EQ(json::parse(to_json(s)), json::parse(R"({"type":"sample","ts":1700000000000,
            "cpu":0.25,"mem_used":1,"mem_total":2,"load1":0.5,"connections":3,
            "messages_per_s":4.0,"bytes_out_per_s":5.0,"host":"box","pid":42})"))
      << "docs/protocols.md: the dashboard's sample";
}

}  // namespace
}  // namespace dashboard
