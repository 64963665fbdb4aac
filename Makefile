# openpipe — a WebSocket server (RFC 6455) built to be read.
#
#   make run            build and start the echo server on 127.0.0.1:8000
#   make test           build and run every test, then check the tutorial snippets
#   make test CH=04     run one chapter's tests only (tests/ch04_*_test.cpp)
#   make asan           the same tests built with -fsanitize=address,undefined
#   make snippets       rewrite the code blocks quoted in tutorial/*.md from the source
#   make format         clang-format every source file (format-check only checks)
#   make bench          the benchmark suite and micro-benchmarks (docs/benchmarks.md)
#   make help           every target
#
# Layout: src/{core,protocol,io}/*.cpp build into build/libopenpipe.a; every
# tests/chNN_*_test.cpp is its own GoogleTest binary; every examples/*.cpp is a
# program in build/. Nothing is listed by hand: add a file and it is built.

BUILD ?= build
CXX ?= g++
CXXSTD := -std=c++20
WARNINGS := -Wall -Wextra -Werror
OPT ?= -O2 -g
SANITIZE ?=

CRYPTO_CFLAGS := $(shell pkg-config --cflags libcrypto 2>/dev/null)
CRYPTO_LIBS := $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)
GTEST_LIBS := $(shell pkg-config --libs gtest_main 2>/dev/null || echo -lgtest_main -lgtest -pthread)

CPPFLAGS += -Iinclude -DOPENPIPE_SOURCE_DIR='"$(CURDIR)"'
CXXFLAGS += $(CXXSTD) $(OPT) $(WARNINGS) $(SANITIZE) $(CRYPTO_CFLAGS) -MMD -MP
LDFLAGS += $(SANITIZE)

LIB_SRCS := $(sort $(wildcard src/core/*.cpp src/protocol/*.cpp src/io/*.cpp))
LIB_OBJS := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libopenpipe.a

TEST_SRCS := $(sort $(wildcard tests/ch*_test.cpp))
TEST_BINS := $(TEST_SRCS:tests/%.cpp=$(BUILD)/tests/%)

PROGRAM_SRCS := $(sort $(wildcard examples/*.cpp))
PROGRAMS := $(PROGRAM_SRCS:examples/%.cpp=$(BUILD)/%)

SNIPPETS := $(BUILD)/tools/snippets

# `make test CH=04` narrows the run to one chapter.
ifdef CH
  RUN_TESTS := $(filter $(BUILD)/tests/ch$(CH)_%,$(TEST_BINS))
else
  RUN_TESTS := $(TEST_BINS)
endif

FORMAT_FILES := $(sort $(wildcard src/*/*.cpp include/openpipe/*/*.h tests/*.cpp tests/*/*.h \
                  tests/*/*.cpp examples/*.cpp examples/*/*.cpp examples/*/*.h))

.PHONY: all test asan run clean format format-check snippets snippets-check help \
        deps-core deps-test programs tests

all: $(LIB) $(PROGRAMS) $(TEST_BINS) $(SNIPPETS)

help:
	@sed -n '2,13p' Makefile | sed 's/^# \{0,1\}//'

# ---- dependencies: one clear line naming the Debian package -------------------
deps-core:
	@command -v $(CXX) >/dev/null 2>&1 || { echo "error: no C++ compiler ($(CXX)): install it with 'apt-get install g++'"; exit 1; }
	@command -v pkg-config >/dev/null 2>&1 || { echo "error: pkg-config not found: install it with 'apt-get install pkg-config'"; exit 1; }
	@pkg-config --exists libcrypto || { echo "error: OpenSSL libcrypto not found: install it with 'apt-get install libssl-dev'"; exit 1; }

deps-test: deps-core
	@pkg-config --exists gtest_main || test -f /usr/include/gtest/gtest.h || { echo "error: GoogleTest not found: install it with 'apt-get install libgtest-dev'"; exit 1; }

# ---- compile -------------------------------------------------------------------
$(BUILD)/obj/%.o: %.cpp | deps-core
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIB) | deps-test
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) $< $(LIB) $(GTEST_LIBS) $(CRYPTO_LIBS) -o $@

$(BUILD)/obj/tests/%.o: tests/%.cpp | deps-test
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(BUILD)/%: $(BUILD)/obj/examples/%.o $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) $< $(LIB) $(CRYPTO_LIBS) -o $@

$(SNIPPETS): $(BUILD)/obj/tests/tools/snippets.o
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) $< -o $@

programs: $(PROGRAMS)
tests: $(TEST_BINS)

# ---- run -------------------------------------------------------------------------
# ARGS are passed to the server: make run ARGS="--port 9000 --trace"
run: $(BUILD)/echo_server
	$(BUILD)/echo_server $(ARGS)

# ---- test --------------------------------------------------------------------------
test: $(RUN_TESTS) $(SNIPPETS) $(PROGRAMS)
	@OPENPIPE_BUILD=$(BUILD) bash tests/tools/run-tests.sh $(RUN_TESTS)
ifndef CH
	@bash tests/tools/snippets-selftest.sh $(SNIPPETS)
	@$(SNIPPETS) check
endif

asan:
	$(MAKE) --no-print-directory test BUILD=build/asan OPT='-O1 -g' \
	  SANITIZE='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all'

snippets: $(SNIPPETS)
	$(SNIPPETS) update

snippets-check: $(SNIPPETS)
	$(SNIPPETS) check

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build

# ---- benchmarks (chapter 16, docs/benchmarks.md) -------------------------------------
#   make bench          build every program, then run the scenario suite (each scenario
#                       3 times for openpipe and for plain TCP echo, medians: about 2-3
#                       minutes; writes build/bench-results.md and build/bench-chart.svg),
#                       then the micro-benchmarks
#   make bench-micro    Google Benchmark: unmasking, UTF-8, frame and HTTP parsing, one echo
#
# Nothing here runs in `make test` (only tests/ch16_*_test.cpp do, with no timed
# assertions). BENCH_ARGS adds flags:
#   make bench BENCH_ARGS="--reps 5 --seconds 5"
#   make bench-micro BENCH_ARGS="--benchmark_filter=Utf8 --benchmark_repetitions=3"

BENCHMARK_LIBS := $(shell pkg-config --libs benchmark 2>/dev/null || echo -lbenchmark) -lpthread
MICRO_BENCH := $(BUILD)/micro_bench

.PHONY: bench bench-micro deps-bench

deps-bench: deps-core
	@test -f /usr/include/benchmark/benchmark.h || pkg-config --exists benchmark || { echo "error: Google Benchmark not found: install it with 'apt-get install libbenchmark-dev'"; exit 1; }

bench: $(PROGRAMS) $(MICRO_BENCH)
	$(BUILD)/bench --suite --results $(BUILD)/bench-results.md --chart $(BUILD)/bench-chart.svg $(BENCH_ARGS)
	$(MICRO_BENCH) --benchmark_min_time=0.2

# tests/bench/micro_bench.cpp compiles with the Makefile's tests/%.cpp rule.
$(MICRO_BENCH): $(BUILD)/obj/tests/bench/micro_bench.o $(LIB) | deps-bench
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) $< $(LIB) $(BENCHMARK_LIBS) $(CRYPTO_LIBS) -o $@

bench-micro: $(MICRO_BENCH)
	$(MICRO_BENCH) $(BENCH_ARGS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
