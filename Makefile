# openpipe — a WebSocket server (RFC 6455) built to be read.
#
#   make all            build the library, every program, every test
#   make run            build the echo server and build/ws_client, start the server on
#                       127.0.0.1:8000 (make run ARGS="--port 9000": its hint follows)
#   make test           build and run every test, then check the tutorial snippets
#   make test CH=04     build and run one chapter's tests only (tests/ch04_*_test.cpp),
#                       and only the programs those tests start
#   make asan           the same tests built with -fsanitize=address,undefined (build/asan)
#   make run-tests      build and run the tests only (CH=NN too), without the snippet,
#                       figure and exercise checks of make test: what make asan runs
#   make tsan           the threaded tests (post, topics, resume) with ThreadSanitizer (build/tsan)
#   make snippets       rewrite the code blocks and figures quoted in tutorial/*.md from
#                       their sources (figures: sizes, docs/bench-results.md, break-its)
#   make snippets-check only check them (make test does too)
#   make exercise CH=01 build chapter 01's tests against the skeleton in exercises/ch01/
#                       (your own module, in build/exercise/) and run them; SOLUTION=1
#                       runs them against the real code instead (exercises/README.md)
#   make exercise-check every skeleton builds, matches its header, fails most of its
#                       chapter's tests without crashing, and the real code passes (CI)
#   make breakit        apply each tests/breakit/*.breakit change to a copy of the tree
#                       and check that exactly the tests it names fail (CI)
#   make format         clang-format every source file (format-check only checks)
#   make format-check   fail if a file is not as clang-format writes it (CI)
#   make programs       build every program in examples/ into build/
#   make tests          build every test binary, run none
#   make compile_commands.json
#                       the compiler command of every source file, for clangd and VS Code
#   make clean          remove build/
#   make bench          the benchmark suite and micro-benchmarks (docs/benchmarks.md)
#   make bench-deflate  JSON chat with and without permessage-deflate (chapter 22)
#   make bench-tls      what TLS costs: handshakes (full, resumed) and messages, ws:// beside wss://
#   make fuzz           each libFuzzer harness for FUZZ_SECONDS (fuzz-smoke: 10 s each)
#   make soak           10,000 connections for SOAK_SECONDS against build/echo_server
#   make help           every target (generated from the "#   make NAME" lines and .PHONY)
#
# Layout: src/{core,protocol,io}/*.cpp build into build/libopenpipe.a; every
# tests/chNN_*_test.cpp is its own GoogleTest binary; every examples/*.cpp is a
# program in build/. Nothing is listed by hand: add a file and it is built.

BUILD ?= build
CXX ?= g++
CXXSTD := -std=c++20
WARNINGS := -Wall -Wextra -Werror
OPT ?= -O2 -g
# The chapters' tests (tests/chNN_*_test.cpp) are compiled with less optimisation
# and line tables only: they spend their time waiting on sockets, not computing,
# and compiling them at -O2 -g took twice as long (most of CI's time). The
# library, the programs and the micro-benchmarks keep OPT.
TEST_OPT ?= -O1 -g1
SANITIZE ?=

# OpenSSL: libcrypto for the accept key (SHA-1), libssl for TLS (chapter 23).
CRYPTO_CFLAGS := $(shell pkg-config --cflags libssl libcrypto 2>/dev/null)
CRYPTO_LIBS := $(shell pkg-config --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto)
# zlib (permessage-deflate, chapter 22) links with the library everywhere libcrypto does.
CRYPTO_LIBS += $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
GTEST_LIBS := $(shell pkg-config --libs gtest_main 2>/dev/null || echo -lgtest_main -lgtest -pthread)

CPPFLAGS += -Iinclude -Iexamples -DOPENPIPE_SOURCE_DIR='"$(CURDIR)"'
CXXFLAGS += $(CXXSTD) $(OPT_HERE) $(WARNINGS) $(SANITIZE) $(CRYPTO_CFLAGS) -MMD -MP
LDFLAGS += $(SANITIZE)
OPT_HERE = $(OPT)
$(BUILD)/obj/tests/ch%.o: OPT_HERE = $(TEST_OPT)

LIB_SRCS := $(sort $(wildcard src/core/*.cpp src/protocol/*.cpp src/io/*.cpp))
LIB_OBJS := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libopenpipe.a

TEST_SRCS := $(sort $(wildcard tests/ch*_test.cpp))
TEST_BINS := $(TEST_SRCS:tests/%.cpp=$(BUILD)/tests/%)

PROGRAM_SRCS := $(sort $(wildcard examples/*.cpp))
PROGRAMS := $(PROGRAM_SRCS:examples/%.cpp=$(BUILD)/%)

SNIPPETS := $(BUILD)/tools/snippets

# Figures the chapters quote (`<!-- fig: NAME -->`, tutorial/README.md): generated
# ones in $(FIGURES) (sizes of types, test counts), measured ones committed in docs/
# with their date and machine. Add a source here and the snippet tool reads it.
FIGURES := $(BUILD)/figures
SIZES := $(BUILD)/tools/sizes
FIGURE_SOURCES := docs/bench-results.md docs/bench-history.md docs/profile-history.md \
                  docs/polling-results.md docs/deflate-results.md docs/resume-results.md \
                  $(FIGURES)/sizes.txt $(FIGURES)/tests.txt $(FIGURES)/map.txt $(FIGURES)/files.txt
FIGURE_ARGS := $(addprefix --figures ,$(FIGURE_SOURCES))

# `make test CH=04` narrows the run to one chapter, and the build to what that
# chapter's tests use: the programs whose name the test files (or the
# tests/support headers) mention, e.g. chapter 12 starts build/echo_server.
# Nothing else is relinked when the library changes.
ifdef CH
  RUN_TESTS := $(filter $(BUILD)/tests/ch$(CH)_%,$(TEST_BINS))
  CH_TEST_FILES := $(wildcard tests/ch$(CH)_*_test.cpp)
  CH_SUPPORT := $(foreach h,$(shell sed -n 's|^\#include "\(support/[a-z_0-9]*\.h\)"|tests/\1|p' \
                  $(CH_TEST_FILES) /dev/null | sort -u),$(wildcard $(h)))
  CH_WORDS := $(shell cat $(CH_TEST_FILES) $(CH_SUPPORT) /dev/null | tr -c 'a-z_0-9' '\n' | sort -u)
  RUN_PROGRAMS := $(filter $(addprefix $(BUILD)/,$(CH_WORDS)),$(PROGRAMS))
else
  RUN_TESTS := $(TEST_BINS)
  RUN_PROGRAMS := $(PROGRAMS)
endif

FORMAT_FILES := $(sort $(wildcard src/*/*.cpp include/openpipe/*/*.h tests/*.cpp tests/*/*.h \
                  tests/*/*.cpp examples/*.cpp examples/*/*.cpp examples/*/*.h \
                  exercises/*.h exercises/*/*.cpp))

# Objects are made by chained pattern rules; without this, make would treat
# them as intermediate files and delete them after each link.
.SECONDARY:

.PHONY: all test run-tests asan run clean format format-check snippets snippets-check help \
        deps-core deps-test programs tests compile_commands.json breakit figures \
        exercise exercise-check exercise-objects

all: $(LIB) $(PROGRAMS) $(TEST_BINS) $(SNIPPETS)

help:
	@bash tests/tools/make-help.sh Makefile

# ---- dependencies: one clear line naming the Debian package -------------------
deps-core:
	@command -v $(CXX) >/dev/null 2>&1 || { echo "error: no C++ compiler ($(CXX)): install it with 'apt-get install g++'"; exit 1; }
	@command -v pkg-config >/dev/null 2>&1 || { echo "error: pkg-config not found: install it with 'apt-get install pkg-config'"; exit 1; }
	@pkg-config --exists libcrypto libssl || { echo "error: OpenSSL libssl/libcrypto not found: install it with 'apt-get install libssl-dev'"; exit 1; }
	@pkg-config --exists zlib || test -f /usr/include/zlib.h || { echo "error: zlib not found: install it with 'apt-get install zlib1g-dev'"; exit 1; }

# The example programs (chat, dashboard, notify) and their tests speak JSON.
.PHONY: deps-json
deps-json:
	@test -f /usr/include/nlohmann/json.hpp || { echo "error: nlohmann-json not found: install it with 'apt-get install nlohmann-json3-dev'"; exit 1; }
$(PROGRAM_SRCS:%.cpp=$(BUILD)/obj/%.o) $(patsubst tests/%.cpp,$(BUILD)/obj/tests/%.o,$(wildcard tests/ch1[789]_*.cpp tests/ch20_apps_test.cpp tests/ch21_*.cpp)): | deps-json

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

# Chapter 00's tests run the polling demo: building them builds it (make breakit too).
$(BUILD)/tests/ch00_polling_demo_test: $(BUILD)/polling_demo
# Chapter 12's tests run the real program: a break-it in examples/ must rebuild it.
$(BUILD)/tests/ch12_echo_server_test: $(BUILD)/echo_server

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIB) | deps-test
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) $< $(LIB) $(GTEST_LIBS) $(CRYPTO_LIBS) -o $@

# Chapter 23 re-runs chapter 15's conformance binaries over TLS: build them first.
$(BUILD)/tests/ch23_autobahn_tls_test: | $(filter $(BUILD)/tests/ch15_conformance_%,$(TEST_BINS))

$(BUILD)/obj/tests/%.o: tests/%.cpp | deps-test
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(BUILD)/%: $(BUILD)/obj/examples/%.o $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) $< $(LIB) $(CRYPTO_LIBS) -o $@

$(SNIPPETS): $(BUILD)/obj/tests/tools/snippets.o
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) $< -o $@

# tests/tools/sizes.cpp compiles src/io/server.cpp in (for the private ClientSocket).
$(SIZES): $(BUILD)/obj/tests/tools/sizes.o $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) $< $(LIB) $(CRYPTO_LIBS) -o $@

$(FIGURES)/sizes.txt: $(SIZES)
	@mkdir -p $(@D)
	$(SIZES) > $@

# How many tests each chapter's binary holds: tests.ch05_utf8 = N, and tests.total.
$(FIGURES)/tests.txt: $(TEST_BINS)
	@mkdir -p $(@D)
	@total=0; for bin in $(TEST_BINS); do \
	  n=$$($$bin --gtest_list_tests | grep -c '^  '); total=$$((total + n)); \
	  echo "tests.$$(basename $$bin _test) = $$n"; \
	done > $@; echo "tests.total = $$total" >> $@

# The modules of each layer and the programs, for chapter 24's map of the code:
# map.io = acceptor, client, ... Its prerequisites are the directories: adding or
# removing a file changes a directory's time, so the listing is made again.
MAP_DIRS := src/core src/protocol src/io include/openpipe/core include/openpipe/protocol \
            include/openpipe/io examples
$(FIGURES)/map.txt: $(MAP_DIRS)
	@mkdir -p $(@D)
	@for layer in core protocol io; do \
	  echo "map.$$layer = $$(ls src/$$layer/*.cpp include/openpipe/$$layer/*.h | sed 's|.*/||; s|\..*||' \
	    | sort -u | paste -sd, - | sed 's/,/, /g')"; \
	done > $@.tmp; \
	echo "map.programs = $$(ls examples/*.cpp | sed 's|.*/||; s|\.cpp||' | paste -sd, - | sed 's/,/, /g')" >> $@.tmp; \
	mv $@.tmp $@

# The size of files the chapters talk about: bytes.examples-web-index.html = N.
FIGURE_FILES := examples/web/index.html
$(FIGURES)/files.txt: $(FIGURE_FILES)
	@mkdir -p $(@D)
	@for f in $(FIGURE_FILES); do echo "bytes.$$(echo $$f | tr / -) = $$(wc -c < $$f)"; done > $@

figures: $(FIGURES)/sizes.txt $(FIGURES)/tests.txt $(FIGURES)/map.txt $(FIGURES)/files.txt

programs: $(PROGRAMS)
tests: $(TEST_BINS)

# ---- run -------------------------------------------------------------------------
# ARGS are passed to the server: make run ARGS="--port 9000 --trace"
run: $(BUILD)/echo_server $(BUILD)/ws_client
	@echo "starting $(BUILD)/echo_server $(ARGS) (Ctrl-C stops it)"
	@$(BUILD)/echo_server $(ARGS)

# ---- test --------------------------------------------------------------------------
ifdef CH
test: $(RUN_TESTS) $(RUN_PROGRAMS)
	@OPENPIPE_BUILD=$(BUILD) bash tests/tools/run-tests.sh $(RUN_TESTS)
else
test: $(RUN_TESTS) $(SNIPPETS) $(RUN_PROGRAMS) figures exercise-objects
	@OPENPIPE_BUILD=$(BUILD) bash tests/tools/run-tests.sh $(RUN_TESTS)
	@bash tests/tools/snippets-selftest.sh $(SNIPPETS)
	@$(SNIPPETS) check $(FIGURE_ARGS)
	@BUILD=$(BUILD) bash tests/tools/exercise-check.sh --symbols-only $(EXERCISE_CHAPTERS)
	@bash tests/tools/breakit.sh --static
endif

# The tests alone. Under a sanitizer the snippet, figure and exercise checks
# would only repeat make test's, so make asan runs this. ASan with UBSan makes
# the compiler slow: a chapter's test file took 90 s at -O1 -g, 50 s at -O1 -g1
# and 19 s at -O0 -g1. Line tables (-g1) are all a sanitizer's report needs
# for its file:line, and the library stays at -O1 so that the tests run fast.
run-tests: $(RUN_TESTS) $(RUN_PROGRAMS)
	@OPENPIPE_BUILD=$(BUILD) bash tests/tools/run-tests.sh $(RUN_TESTS)

asan:
	$(MAKE) --no-print-directory run-tests BUILD=build/asan OPT='-O1 -g1' TEST_OPT='-O0 -g1' \
	  SANITIZE='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all'

# ThreadSanitizer: the tests where threads meet (Server::post, and topics
# published from other threads, resumes under load), in a build of their own. Kept to these three
# binaries so CI stays quick; run any other chapter with TSAN_TESTS=.
TSAN_TESTS ?= ch11_post_test ch11_topics_test ch21_resume_test
.PHONY: tsan
tsan:
	$(MAKE) --no-print-directory tsan-run BUILD=build/tsan OPT='-O1 -g1' \
	  SANITIZE='-fsanitize=thread -fno-omit-frame-pointer'

tsan-run: $(TSAN_TESTS:%=$(BUILD)/tests/%)
	@TSAN_OPTIONS='halt_on_error=1 second_deadlock_stack=1' OPENPIPE_BUILD=$(BUILD) \
	  bash tests/tools/run-tests.sh $^

snippets: $(SNIPPETS) figures
	$(SNIPPETS) update $(FIGURE_ARGS)

snippets-check: $(SNIPPETS) figures
	$(SNIPPETS) check $(FIGURE_ARGS)

# ---- exercise mode: the chapter's tests judge the student's module (exercises/README.md) --
# exercises/chNN/X.cpp is a skeleton of src/*/X.cpp. For each chapter with a skeleton,
# build/exercise/chNN/libopenpipe.a is the library with the real X.o swapped for the
# skeleton's, and the chapter's test objects (the same as `make test` builds) are
# linked against it. src/ is never touched. -Wmissing-declarations: a skeleton
# function the header no longer declares is an error, not a silent extra.
EXERCISE := $(BUILD)/exercise
EXERCISE_CHAPTERS := $(sort $(patsubst exercises/ch%,%,$(wildcard exercises/ch[0-9][0-9])))

$(EXERCISE)/obj/%.o: %.cpp | deps-core
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) -Iexercises $(CXXFLAGS) -Wmissing-declarations -c $< -o $@

# $(call exercise-rules,NN): the library and test binaries of chapter NN's exercise.
define exercise-rules
EX_SKELETONS_$(1) := $$(wildcard exercises/ch$(1)/*.cpp)
EX_REPLACED_$(1) := $$(foreach f,$$(EX_SKELETONS_$(1)),$$(filter %/$$(notdir $$(f)),$$(LIB_SRCS)))
EX_LIB_$(1) := $(EXERCISE)/ch$(1)/libopenpipe.a
EX_TESTS_$(1) := $$(patsubst tests/%.cpp,$(EXERCISE)/ch$(1)/tests/%,$$(wildcard tests/ch$(1)_*_test.cpp))
$$(EX_LIB_$(1)): $$(EX_SKELETONS_$(1):%.cpp=$(EXERCISE)/obj/%.o) \
                 $$(filter-out $$(EX_REPLACED_$(1):%.cpp=$(BUILD)/obj/%.o),$(LIB_OBJS))
	@mkdir -p $$(@D)
	@rm -f $$@
	$(AR) rcs $$@ $$^
$(EXERCISE)/ch$(1)/tests/%: $(BUILD)/obj/tests/%.o $$(EX_LIB_$(1)) | deps-test
	@mkdir -p $$(@D)
	$(CXX) $(LDFLAGS) $$< $$(EX_LIB_$(1)) $(GTEST_LIBS) $(CRYPTO_LIBS) -o $$@
endef
$(foreach n,$(EXERCISE_CHAPTERS),$(eval $(call exercise-rules,$(n))))
# Every skeleton compiled, and the real objects they stand for: `make test` compares
# their symbols, so a header that changes without its skeleton fails the test.
EXERCISE_OBJECTS := $(patsubst %.cpp,$(EXERCISE)/obj/%.o,$(wildcard exercises/ch[0-9][0-9]/*.cpp))
exercise-objects: $(EXERCISE_OBJECTS) $(LIB_OBJS)

ifndef CH
exercise:
	@echo "usage: make exercise CH=NN [SOLUTION=1]; chapters with a skeleton: $(EXERCISE_CHAPTERS)"; exit 2
else ifdef SOLUTION
exercise: test
else ifeq ($(EX_TESTS_$(CH)),)
exercise:
	@echo "error: chapter $(CH) has no skeleton in exercises/ (chapters with one: $(EXERCISE_CHAPTERS))"; exit 2
else
exercise: $(EX_TESTS_$(CH))
	@echo "exercise: chapter $(CH)'s tests against your exercises/ch$(CH)/*.cpp"
	@OPENPIPE_BUILD=$(BUILD) bash tests/tools/run-tests.sh $(EX_TESTS_$(CH))
endif

exercise-check: $(foreach n,$(EXERCISE_CHAPTERS),$(EX_TESTS_$(n))) $(TEST_BINS)
	@BUILD=$(BUILD) bash tests/tools/exercise-check.sh $(EXERCISE_CHAPTERS)

# The break-it exercises, each applied to a copy of the tree (about 20 s each).
breakit: $(LIB) $(TEST_BINS)
	bash tests/tools/breakit.sh $(BREAKIT)

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build

# ---- compile_commands.json (clangd, VS Code, clang-tidy) --------------------------------
# Written by the Makefile itself from the flags above (no bear needed): one entry per
# library, test, program and tool source, with the command `make` would run.
COMPILE_DB_SRCS := $(LIB_SRCS) $(TEST_SRCS) $(PROGRAM_SRCS) \
                   $(sort $(wildcard tests/tools/*.cpp tests/bench/*.cpp tests/fuzz/*.cpp))
compile_commands.json:
	@{ echo '['; \
	  for f in $(COMPILE_DB_SRCS); do \
	    printf '{"directory": "%s", "file": "%s",\n "command": "%s"},\n' '$(CURDIR)' "$$f" \
	      "$(CXX) $(subst ",\\\",$(CPPFLAGS) $(CXXFLAGS)) -c $$f -o $(BUILD)/obj/$${f%.cpp}.o"; \
	  done | sed '$$ s/,$$//'; echo ']'; } > $@
	@echo "compile_commands.json: $(words $(COMPILE_DB_SRCS)) files"

# ---- benchmarks (chapter 16, docs/benchmarks.md) -------------------------------------
#   make bench          build every program, then run the scenario suite (each scenario
#                       3 times for openpipe and for plain TCP echo, medians: about 2-3
#                       minutes; writes build/bench-results.md and build/bench-chart.svg),
#                       then the fan-out suite (bench-fanout), then the micro-benchmarks
#   make bench-fanout   one publisher and 1,000 / 10,000 subscribers on /broadcast, beside
#                       the echo at 16 in flight (issue 9's target); writes build/bench-fanout.md
#   make bench-micro    Google Benchmark: unmasking, UTF-8, frame and HTTP parsing, one echo
#   make bench-save     copy the last run to docs/bench-results.md (the figures chapters quote)
#
# Nothing here runs in `make test` (only tests/ch16_*_test.cpp do, with no timed
# assertions). BENCH_ARGS adds flags:
#   make bench BENCH_ARGS="--reps 5 --seconds 5"
#   make bench-micro BENCH_ARGS="--benchmark_filter=Utf8 --benchmark_repetitions=3"

BENCHMARK_LIBS := $(shell pkg-config --libs benchmark 2>/dev/null || echo -lbenchmark) -lpthread
MICRO_BENCH := $(BUILD)/micro_bench

.PHONY: bench bench-micro bench-save bench-deflate bench-fanout bench-tls deps-bench

deps-bench: deps-core
	@test -f /usr/include/benchmark/benchmark.h || pkg-config --exists benchmark || { echo "error: Google Benchmark not found: install it with 'apt-get install libbenchmark-dev'"; exit 1; }

# FANOUT_ARGS: build/fanout_bench's flags (10,000 subscribers, 2 workers + Redis
# beside 1 process); e.g. FANOUT_ARGS="--subscribers 2000 --rate 20 --seconds 3".
FANOUT_ARGS ?= --subscribers 10000 --rate 10 --seconds 5

bench: $(PROGRAMS) $(MICRO_BENCH)
	$(BUILD)/bench --suite --results $(BUILD)/bench-results.md --chart $(BUILD)/bench-chart.svg $(BENCH_ARGS)
	@$(MAKE) --no-print-directory bench-deflate
	$(BUILD)/bench --fanout-suite --results $(BUILD)/bench-fanout.md $(BENCH_ARGS)
	$(MICRO_BENCH) --benchmark_min_time=0.2
	@echo "=== fan-out through Redis (chapter 20, docs/scaling.md): FANOUT_ARGS=\"$(FANOUT_ARGS)\""
	$(BUILD)/fanout_bench $(FANOUT_ARGS)

bench-fanout: $(PROGRAMS)
	$(BUILD)/bench --fanout-suite --results $(BUILD)/bench-fanout.md $(BENCH_ARGS)

# The chapters quote docs/bench-results.md (its "Figures" block): saving a new run
# there, then `make snippets`, updates every figure the run determines.
bench-save:
	@test -f $(BUILD)/bench-results.md || { echo "error: no $(BUILD)/bench-results.md: run make bench first"; exit 1; }
	cp $(BUILD)/bench-results.md docs/bench-results.md
	cp $(BUILD)/bench-chart.svg docs/bench-chart.svg

# Chapter 22: 200-byte JSON chat messages, 50 connections, three ways: no
# extension, permessage-deflate (no window kept), and with context takeover.
bench-deflate: $(PROGRAMS)
	@for mode in "" --deflate --deflate-context; do \
	  $(BUILD)/bench --spawn openpipe --json --size 200 --connections 50 --seconds 3 $$mode \
	    | grep -v '^summary:' || exit 1; \
	done

# tests/bench/micro_bench.cpp compiles with the Makefile's tests/%.cpp rule.
$(MICRO_BENCH): $(BUILD)/obj/tests/bench/micro_bench.o $(LIB) | deps-bench
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) $< $(LIB) $(BENCHMARK_LIBS) $(CRYPTO_LIBS) -o $@

# TLS (chapter 23): handshakes full and resumed, WebSocket handshakes and messages, ws:// beside wss://.
bench-tls: $(BUILD)/tls_bench
	$(BUILD)/tls_bench $(BENCH_ARGS)

bench-micro: $(MICRO_BENCH)
	$(MICRO_BENCH) $(BENCH_ARGS)

# ---- fuzzing (libFuzzer) and the soak test: chapter 15 ---------------------------------
#
#   make fuzz             every harness in tests/fuzz/ for FUZZ_SECONDS (default 60) each
#   make fuzz-smoke       every harness, seed 1, at most FUZZ_SMOKE_RUNS inputs or 10 s (CI)
#   make fuzz FUZZ=utf8   one harness (tests/fuzz/fuzz_utf8.cpp)
#   make fuzz-coverage    which lines of src/core and src/protocol the corpora reach
#   make soak             10,000 connections to build/echo_server for SOAK_SECONDS (default 60)
#
# A harness is tests/fuzz/fuzz_NAME.cpp; its seed corpus is tests/fuzz/corpus/NAME/.
# libFuzzer runs it on a working copy of the seeds in build/fuzz/corpus/NAME/ (the
# checked-in seeds stay small); a crash is saved as build/fuzz/crashes/NAME-crash-*
# and the target fails. Replay one with: build/fuzz/fuzz_NAME build/fuzz/crashes/FILE
#
# The harnesses and the protocol layer (src/core, src/protocol: no I/O, so nothing
# else is needed) are built with clang++ and -fsanitize=fuzzer,address,undefined,
# into build/fuzz/. libFuzzer ships with clang's runtime: Debian's package
# libclang-rt-14-dev (a Recommends of clang-14, so --no-install-recommends skips it).

FUZZ_CXX ?= clang++
FUZZ_BUILD := $(BUILD)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
# The smoke run is repeatable: a fixed seed and at most this many inputs, so CI
# tries exactly the inputs a developer's run tried (a random seed once failed CI
# on a bug no local run had met; it is now a test and a seed in the corpus).
FUZZ_SMOKE_RUNS ?= 40000
FUZZ_MAX_LEN ?= 4096
FUZZ_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# clang warns about things g++ does not: the g++ build is the one with -Werror,
# so here a clang-only warning is shown but does not stop the fuzzers.
FUZZ_CXXFLAGS := $(CXXSTD) -O1 -g $(filter-out -Werror,$(WARNINGS)) $(CRYPTO_CFLAGS) $(FUZZ_SANITIZE) -MMD -MP
# Only the sans-I/O layers: the harnesses never touch a socket.
FUZZ_LIB_SRCS := $(filter src/core/% src/protocol/%,$(LIB_SRCS))
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.cpp=$(FUZZ_BUILD)/obj/%.o)
FUZZ_HARNESSES := $(sort $(patsubst tests/fuzz/fuzz_%.cpp,%,$(wildcard tests/fuzz/fuzz_*.cpp)))
FUZZ ?= $(FUZZ_HARNESSES)
FUZZ_BINS := $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz_%)

SOAK_SECONDS ?= 60
SOAK_CONNECTIONS ?= 10000

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-coverage deps-fuzz soak

deps-fuzz: deps-core
	@command -v $(FUZZ_CXX) >/dev/null 2>&1 || { echo "error: $(FUZZ_CXX) not found: install it with 'apt-get install clang'"; exit 1; }
	@printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
	  | $(FUZZ_CXX) -x c++ -fsanitize=fuzzer - -o /dev/null 2>/dev/null \
	  || { echo "error: libFuzzer (-fsanitize=fuzzer) does not link: install it with 'apt-get install libclang-rt-14-dev'"; exit 1; }

# The library's objects get coverage instrumentation (fuzzer-no-link); the
# harness link adds libFuzzer's main().
$(FUZZ_LIB_OBJS): $(FUZZ_BUILD)/obj/%.o: %.cpp | deps-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(CPPFLAGS) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BINS): $(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.cpp $(FUZZ_LIB_OBJS) | deps-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(CPPFLAGS) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJS) $(CRYPTO_LIBS) -o $@

fuzz-build: $(FUZZ_BINS)

# $(call run-fuzz,SECONDS[,EXTRA FLAGS]): runs each harness named in $(FUZZ) for SECONDS on its
# working corpus, then prints one line per harness from libFuzzer's final stats.
define run-fuzz
	@set -e; mkdir -p $(FUZZ_BUILD)/crashes; summary=""; \
	for name in $(FUZZ); do \
	  bin=$(FUZZ_BUILD)/fuzz_$$name; corpus=$(FUZZ_BUILD)/corpus/$$name; log=$(FUZZ_BUILD)/$$name.log; \
	  test -x $$bin || { echo "error: no harness tests/fuzz/fuzz_$$name.cpp"; exit 1; }; \
	  mkdir -p $$corpus; cp -n tests/fuzz/corpus/$$name/* $$corpus/ 2>/dev/null || true; \
	  echo "=== fuzz_$$name: $(1) s (log: $$log)"; \
	  if ! $$bin -max_total_time=$(1) $(2) -max_len=$(FUZZ_MAX_LEN) -timeout=10 -rss_limit_mb=2048 \
	        -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crashes/$$name- $$corpus >$$log 2>&1; then \
	    tail -n 40 $$log; echo "fuzz_$$name FAILED: the input is in $(FUZZ_BUILD)/crashes/"; exit 1; \
	  fi; \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log); \
	  last=$$(grep -E '^#[0-9]+' $$log | tail -n 1 | sed -E 's/^#[0-9]+[[:space:]]+[A-Z]+[[:space:]]+//'); \
	  summary="$$summary$$(printf '  fuzz_%-16s %10s executions  %s' $$name "$$execs" "$$last")\n"; \
	done; \
	printf '\nfuzz summary (%s s per harness):\n%b' $(1) "$$summary"
endef

fuzz: $(FUZZ_BINS)
	$(call run-fuzz,$(FUZZ_SECONDS))

fuzz-smoke: $(FUZZ_BINS)
	$(call run-fuzz,$(FUZZ_SMOKE_SECONDS),-seed=1 -runs=$(FUZZ_SMOKE_RUNS))

# Line coverage reached by each harness's working corpus (or its seeds, before
# any run), from a build with clang's source-based coverage instead of sanitizers.
FUZZ_COV_BUILD := $(FUZZ_BUILD)/cov
FUZZ_COV_BINS := $(FUZZ_HARNESSES:%=$(FUZZ_COV_BUILD)/fuzz_%)
LLVM_PROFDATA ?= llvm-profdata
LLVM_COV ?= llvm-cov

$(FUZZ_COV_BINS): $(FUZZ_COV_BUILD)/fuzz_%: tests/fuzz/fuzz_%.cpp $(FUZZ_LIB_SRCS) | deps-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(CPPFLAGS) $(CXXSTD) -O1 -g $(CRYPTO_CFLAGS) -fprofile-instr-generate \
	  -fcoverage-mapping -fsanitize=fuzzer $< $(FUZZ_LIB_SRCS) $(CRYPTO_LIBS) -o $@

fuzz-coverage: $(FUZZ_COV_BINS)
	@set -e; for name in $(FUZZ); do \
	  corpus=$(FUZZ_BUILD)/corpus/$$name; test -d $$corpus || corpus=tests/fuzz/corpus/$$name; \
	  LLVM_PROFILE_FILE=$(FUZZ_COV_BUILD)/$$name.profraw $(FUZZ_COV_BUILD)/fuzz_$$name -runs=0 $$corpus >/dev/null 2>&1; \
	  $(LLVM_PROFDATA) merge -sparse $(FUZZ_COV_BUILD)/$$name.profraw -o $(FUZZ_COV_BUILD)/$$name.profdata; \
	  echo "=== fuzz_$$name over $$corpus ($$(ls $$corpus | wc -l) inputs): regions, functions, lines covered"; \
	  $(LLVM_COV) report $(FUZZ_COV_BUILD)/fuzz_$$name -instr-profile=$(FUZZ_COV_BUILD)/$$name.profdata \
	    $(FUZZ_LIB_SRCS) | awk '$$1 ~ /[.]cpp$$|^TOTAL$$/ { printf "  %-26s %8s %8s %8s\n", $$1, $$4, $$7, $$10 }'; \
	done

# The soak starts the server itself (--spawn), on a free port, with its
# descriptor limit raised; see `build/soak --help`.
soak: $(BUILD)/soak $(BUILD)/echo_server
	$(BUILD)/soak --spawn $(BUILD)/echo_server --connections $(SOAK_CONNECTIONS) --seconds $(SOAK_SECONDS)

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
-include $(shell find $(EXERCISE)/obj -name '*.d' 2>/dev/null)
