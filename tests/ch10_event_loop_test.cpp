// Chapter 10: the epoll event loop. Readiness dispatch (level-triggered),
// write interest turned on and off, timers on a heap, signals through a
// signalfd, before-sleep hooks, stop(), and the stale-event case: a handler
// removes a descriptor whose event is still waiting in the same batch.
// No RFC 6455 here: this is the reactor the server (chapter 11) runs on.
// Run: make test CH=10   or   ./build/tests/ch10_event_loop_test --gtest_filter='Ch10_EventLoop.*'
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/epoll.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "openpipe/io/event_loop.h"
#include "openpipe/io/fd.h"
#include "openpipe/io/socket.h"

namespace ws {
namespace {

using namespace std::chrono_literals;

// A generous bound for a run_once() that should return at once: a broken
// loop fails after this instead of hanging. Nothing asserts elapsed time.
constexpr int kWaitLimitMs = 5000;

// The clock timer tests run on: it only moves when a test moves it.
struct FakeClock {
  static inline EventLoop::TimePoint current{};
  static EventLoop::TimePoint now() { return current; }
  static void advance(EventLoop::Clock::duration by) { current += by; }
};

// Writes a few bytes, so the other end of the pair becomes readable.
void make_readable(int fd, std::string_view bytes = "x") {
  ASSERT_EQ(send_nosignal(fd, bytes), static_cast<ssize_t>(bytes.size()));
}

// Records every call; reads one byte per readable event (so a test can see
// level-triggered readiness repeat until the data is drained).
struct Recorder : IoHandler {
  explicit Recorder(int fd = -1) : fd(fd) {}
  void on_io(uint32_t events) override {
    calls.push_back(events);
    if ((events & EPOLLIN) && fd >= 0) {
      uint8_t byte;
      last_read = read_some(fd, {&byte, 1});
    }
  }
  int fd;
  std::vector<uint32_t> calls;
  ssize_t last_read = 0;
};

class Ch10_EventLoop : public ::testing::Test {
 protected:
  void SetUp() override { FakeClock::current = EventLoop::TimePoint{} + 1h; }
  EventLoop fake_loop_{&FakeClock::now};
};

// ---- basic: readiness ------------------------------------------------------

TEST_F(Ch10_EventLoop, ReadableEventIsDispatched) {
  EventLoop loop;
  Fd a, b;
  ASSERT_EQ(make_socketpair(a, b), 0);
  Recorder handler(a.get());
  ASSERT_EQ(loop.add(a.get(), EPOLLIN, &handler), 0) << std::strerror(errno);
  make_readable(b.get());
  EXPECT_EQ(loop.run_once(kWaitLimitMs), 1);
  ASSERT_EQ(handler.calls.size(), 1u) << "one ready descriptor, one call to its handler";
  EXPECT_TRUE(handler.calls[0] & EPOLLIN);
}

TEST_F(Ch10_EventLoop, NothingReadyMeansNoCall) {
  EventLoop loop;
  Fd a, b;
  ASSERT_EQ(make_socketpair(a, b), 0);
  Recorder handler(a.get());
  loop.add(a.get(), EPOLLIN, &handler);
  EXPECT_EQ(loop.run_once(0), 0);
  EXPECT_TRUE(handler.calls.empty()) << "no data, no EPOLLIN";
}

TEST_F(Ch10_EventLoop, LevelTriggeredRepeatsUntilDrained) {
  EventLoop loop;
  Fd a, b;
  ASSERT_EQ(make_socketpair(a, b), 0);
  Recorder handler(a.get());  // reads ONE byte per call
  loop.add(a.get(), EPOLLIN, &handler);
  make_readable(b.get(), "ab");
  loop.run_once(kWaitLimitMs);
  loop.run_once(kWaitLimitMs);
  loop.run_once(0);
  EXPECT_EQ(handler.calls.size(), 2u)
      << "level-triggered: while unread bytes remain the fd is reported again, every turn; "
         "once drained, it is not";
}

TEST_F(Ch10_EventLoop, WriteInterestTurnsOnAndOff) {
  EventLoop loop;
  Fd a, b;
  ASSERT_EQ(make_socketpair(a, b), 0);
  Recorder handler;
  loop.add(a.get(), EPOLLIN, &handler);
  loop.run_once(0);
  EXPECT_TRUE(handler.calls.empty()) << "without EPOLLOUT interest, writability is not reported";
  ASSERT_EQ(loop.modify(a.get(), EPOLLIN | EPOLLOUT), 0);
  EXPECT_EQ(loop.interest(a.get()), uint32_t{EPOLLIN | EPOLLOUT});
  loop.run_once(kWaitLimitMs);
  ASSERT_EQ(handler.calls.size(), 1u);
  EXPECT_TRUE(handler.calls[0] & EPOLLOUT) << "an empty socket buffer is writable";
  ASSERT_EQ(loop.modify(a.get(), EPOLLIN), 0);
  loop.run_once(0);
  EXPECT_EQ(handler.calls.size(), 1u)
      << "EPOLLOUT must be turned off once output is drained, or a level-triggered loop "
         "is woken on every turn for nothing";
}

TEST_F(Ch10_EventLoop, RemovedDescriptorIsNotReported) {
  EventLoop loop;
  Fd a, b;
  ASSERT_EQ(make_socketpair(a, b), 0);
  Recorder handler(a.get());
  loop.add(a.get(), EPOLLIN, &handler);
  make_readable(b.get());
  ASSERT_EQ(loop.remove(a.get()), 0);
  EXPECT_FALSE(loop.watching(a.get()));
  loop.run_once(0);
  EXPECT_TRUE(handler.calls.empty());
}

TEST_F(Ch10_EventLoop, HangupIsReportedWithoutAsking) {
  EventLoop loop;
  Fd r, w;
  ASSERT_EQ(make_pipe(r, w), 0);
  Recorder handler;
  loop.add(r.get(), EPOLLIN, &handler);
  w.reset();  // the writer is gone
  loop.run_once(kWaitLimitMs);
  ASSERT_EQ(handler.calls.size(), 1u);
  EXPECT_TRUE(handler.calls[0] & EPOLLHUP) << "epoll always reports EPOLLHUP and EPOLLERR";
}

TEST_F(Ch10_EventLoop, AddingTwiceGivesEexist) {
  EventLoop loop;
  Fd a, b;
  ASSERT_EQ(make_socketpair(a, b), 0);
  Recorder handler;
  ASSERT_EQ(loop.add(a.get(), EPOLLIN, &handler), 0);
  EXPECT_EQ(loop.add(a.get(), EPOLLIN, &handler), -1);
  EXPECT_EQ(errno, EEXIST) << "one registration per fd: a second add() is a bug to report";
}

TEST_F(Ch10_EventLoop, ModifyOrRemoveUnknownFdGivesEnoent) {
  EventLoop loop;
  EXPECT_EQ(loop.modify(100, EPOLLIN), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(loop.remove(100), -1);
  EXPECT_EQ(errno, ENOENT);
}

// ---- timers (on a fake clock: no test waits for real time to pass) ---------

TEST_F(Ch10_EventLoop, TimerFiresWhenItsDeadlinePasses) {
  int fired = 0;
  fake_loop_.add_timer(100ms, [&] { ++fired; });
  FakeClock::advance(99ms);
  fake_loop_.run_once(0);
  EXPECT_EQ(fired, 0) << "99 ms after a 100 ms timer was set, it has not fired";
  FakeClock::advance(1ms);
  fake_loop_.run_once(0);
  EXPECT_EQ(fired, 1);
  FakeClock::advance(1s);
  fake_loop_.run_once(0);
  EXPECT_EQ(fired, 1) << "a one-shot timer fires once";
}

TEST_F(Ch10_EventLoop, TimersFireInDeadlineOrder) {
  std::string order;
  fake_loop_.add_timer(30ms, [&] { order += "30 "; });
  fake_loop_.add_timer(10ms, [&] { order += "10 "; });
  fake_loop_.add_timer(20ms, [&] { order += "20 "; });
  FakeClock::advance(1s);
  fake_loop_.run_once(0);
  EXPECT_EQ(order, "10 20 30 ") << "the heap hands out the earliest deadline first";
}

TEST_F(Ch10_EventLoop, EqualDeadlinesFireInCreationOrder) {
  std::string order;
  for (char c : std::string("abcde")) fake_loop_.add_timer(5ms, [&order, c] { order += c; });
  FakeClock::advance(5ms);
  fake_loop_.run_once(0);
  EXPECT_EQ(order, "abcde") << "ties are broken by id, which grows with every add_timer()";
}

TEST_F(Ch10_EventLoop, CancelledTimerDoesNotFire) {
  int fired = 0;
  TimerId id = fake_loop_.add_timer(10ms, [&] { ++fired; });
  EXPECT_TRUE(fake_loop_.cancel_timer(id));
  EXPECT_FALSE(fake_loop_.cancel_timer(id)) << "a timer is cancelled once";
  FakeClock::advance(1s);
  fake_loop_.run_once(0);
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(fake_loop_.timer_count(), 0u);
}

TEST_F(Ch10_EventLoop, TimerCanCancelAnotherDueInTheSameTurn) {
  int second_fired = 0;
  TimerId second = kNoTimer;
  fake_loop_.add_timer(1ms, [&] { fake_loop_.cancel_timer(second); });
  second = fake_loop_.add_timer(2ms, [&] { ++second_fired; });
  FakeClock::advance(1s);  // both are due in the same turn
  fake_loop_.run_once(0);
  EXPECT_EQ(second_fired, 0) << "a due timer is checked again just before it runs";
}

TEST_F(Ch10_EventLoop, TimerAddedFromATimerRunsNextTurn) {
  int inner_fired = 0;
  fake_loop_.add_timer(0ms, [&] { fake_loop_.add_timer(0ms, [&] { ++inner_fired; }); });
  fake_loop_.run_once(0);
  EXPECT_EQ(inner_fired, 0)
      << "timers added while timers run wait for the next turn: a callback that re-adds "
         "itself with delay 0 must not trap the loop in its timer phase";
  fake_loop_.run_once(0);
  EXPECT_EQ(inner_fired, 1);
}

TEST_F(Ch10_EventLoop, PeriodicTimerRepeatsUntilCancelled) {
  int fired = 0;
  TimerId id = fake_loop_.add_periodic(10ms, [&] { ++fired; });
  for (int i = 0; i < 3; ++i) {
    FakeClock::advance(10ms);
    fake_loop_.run_once(0);
  }
  EXPECT_EQ(fired, 3);
  EXPECT_TRUE(fake_loop_.cancel_timer(id));
  FakeClock::advance(10ms);
  fake_loop_.run_once(0);
  EXPECT_EQ(fired, 3);
}

TEST_F(Ch10_EventLoop, PeriodicTimerCanCancelItself) {
  int fired = 0;
  TimerId id = kNoTimer;
  id = fake_loop_.add_periodic(10ms, [&] {
    if (++fired == 2) fake_loop_.cancel_timer(id);
  });
  for (int i = 0; i < 5; ++i) {
    FakeClock::advance(10ms);
    fake_loop_.run_once(0);
  }
  EXPECT_EQ(fired, 2);
  EXPECT_EQ(fake_loop_.timer_count(), 0u);
}

TEST_F(Ch10_EventLoop, PeriodicTimerRejectsZeroInterval) {
  EXPECT_EQ(fake_loop_.add_periodic(0ms, [] {}), kNoTimer)
      << "a zero period would be due again the moment it ran";
}

TEST_F(Ch10_EventLoop, WaitTimeoutFollowsTheEarliestTimer) {
  EXPECT_EQ(fake_loop_.wait_timeout_ms(-1), -1) << "no timers: sleep until an fd is ready";
  fake_loop_.add_timer(500ms, [] {});
  TimerId soon = fake_loop_.add_timer(30ms, [] {});
  EXPECT_EQ(fake_loop_.wait_timeout_ms(-1), 30);
  EXPECT_EQ(fake_loop_.wait_timeout_ms(10), 10) << "the caller's limit wins when it is shorter";
  fake_loop_.cancel_timer(soon);
  EXPECT_EQ(fake_loop_.wait_timeout_ms(-1), 500)
      << "a cancelled timer must not cut the sleep short";
}

TEST_F(Ch10_EventLoop, WaitTimeoutRoundsUp) {
  fake_loop_.add_timer(10ms, [] {});
  FakeClock::advance(9500us);
  EXPECT_EQ(fake_loop_.wait_timeout_ms(-1), 1)
      << "0.5 ms left rounds up to 1 ms: rounding down to 0 would spin without sleeping";
  FakeClock::advance(1ms);
  EXPECT_EQ(fake_loop_.wait_timeout_ms(-1), 0) << "an overdue timer means: do not sleep";
}

TEST_F(Ch10_EventLoop, CancelledTimersDoNotPileUp) {
  fake_loop_.add_timer(1h, [] {});  // one that stays
  for (int i = 0; i < 10000; ++i) {
    fake_loop_.cancel_timer(fake_loop_.add_timer(1h, [] {}));
  }
  EXPECT_EQ(fake_loop_.timer_count(), 1u);
  EXPECT_LT(fake_loop_.timer_heap_size(), 200u)
      << "cancelled entries are left in the heap lazily, but the heap is rebuilt once they "
         "outnumber the live timers";
}

TEST_F(Ch10_EventLoop, RealClockTimerWakesTheLoop) {
  EventLoop loop;  // the real steady_clock
  bool fired = false;
  loop.add_timer(1ms, [&] {
    fired = true;
    loop.stop();
  });
  // Nothing is registered: only the timeout computed from the timer can
  // wake epoll_wait. (kWaitLimitMs keeps a broken loop from hanging.)
  for (int turn = 0; turn < 3 && !fired; ++turn) loop.run_once(kWaitLimitMs);
  EXPECT_TRUE(fired);
}

// ---- signals and hooks ---------------------------------------------------

TEST_F(Ch10_EventLoop, SignalArrivesAsACallback) {
  EventLoop loop;
  int received = 0;
  ASSERT_EQ(loop.on_signal(SIGUSR1, [&](int signo) { received = signo; }), 0)
      << std::strerror(errno);
  // raise() is safe only if on_signal() blocked SIGUSR1: otherwise its
  // default action would end this test program right here.
  sigset_t mask;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  ASSERT_TRUE(sigismember(&mask, SIGUSR1)) << "on_signal must block the signal (pthread_sigmask)";
  ::raise(SIGUSR1);
  loop.run_once(kWaitLimitMs);
  EXPECT_EQ(received, SIGUSR1) << "the signal waits in the signalfd and is read like data";
}

TEST_F(Ch10_EventLoop, OnSignalBlocksTheSignal) {
  EventLoop loop;
  ASSERT_EQ(loop.on_signal(SIGUSR2, [](int) {}), 0);
  sigset_t mask;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  EXPECT_TRUE(sigismember(&mask, SIGUSR2))
      << "a signalfd only sees signals that are blocked; an unblocked one is delivered "
         "the classic way (here: its default action, the end of the process)";
}

TEST_F(Ch10_EventLoop, OnSignalRefusesSigkill) {
  EventLoop loop;
  EXPECT_EQ(loop.on_signal(SIGKILL, [](int) {}), -1);
  EXPECT_EQ(errno, EINVAL) << "SIGKILL cannot be blocked, so it can never reach the loop";
}

TEST_F(Ch10_EventLoop, BeforeSleepRunsOncePerTurn) {
  int hooks = 0;
  fake_loop_.add_before_sleep([&] { ++hooks; });
  for (int i = 0; i < 3; ++i) fake_loop_.run_once(0);
  EXPECT_EQ(hooks, 3);
}

TEST_F(Ch10_EventLoop, BeforeSleepRunsBeforeTheWait) {
  EventLoop loop;
  Fd a, b;
  ASSERT_EQ(make_socketpair(a, b), 0);
  Recorder reader(a.get());
  loop.add(a.get(), EPOLLIN, &reader);
  // The hook plays the server's flush: what it writes is already on its way
  // when the loop waits, so the same turn sees the other end readable.
  loop.add_before_sleep([&] {
    if (reader.calls.empty()) make_readable(b.get());
  });
  loop.run_once(kWaitLimitMs);
  EXPECT_EQ(reader.calls.size(), 1u) << "hooks run first in a turn, just before epoll_wait";
}

TEST_F(Ch10_EventLoop, HookMayAddAHook) {
  int second = 0;
  fake_loop_.add_before_sleep([&] {
    if (second == 0) fake_loop_.add_before_sleep([&] { ++second; });
  });
  fake_loop_.run_once(0);
  EXPECT_EQ(second, 0) << "a hook added during the hooks runs from the next turn on";
  fake_loop_.run_once(0);
  EXPECT_EQ(second, 1);
}

// ---- stop() --------------------------------------------------------------

TEST_F(Ch10_EventLoop, StopFromAHandlerEndsRun) {
  EventLoop loop;
  Fd a, b;
  ASSERT_EQ(make_socketpair(a, b), 0);
  struct Stopper : IoHandler {
    explicit Stopper(EventLoop& loop) : loop(loop) {}
    void on_io(uint32_t) override {
      ++calls;
      loop.stop();
    }
    EventLoop& loop;
    int calls = 0;
  } stopper(loop);
  loop.add(a.get(), EPOLLIN, &stopper);
  make_readable(b.get());  // never read: level-triggered would report it forever
  EXPECT_EQ(loop.run(), 0);
  EXPECT_EQ(stopper.calls, 1) << "run() returns at the end of the turn that called stop()";
}

// ---- adversarial: handlers that change the registrations mid-batch -------

TEST_F(Ch10_EventLoop, HandlerMayRemoveAndDeleteItself) {
  EventLoop loop;
  Fd a, b;
  ASSERT_EQ(make_socketpair(a, b), 0);
  struct OneShot : IoHandler {
    OneShot(EventLoop& loop, int fd) : loop(loop), fd(fd) {}
    void on_io(uint32_t) override {
      loop.remove(fd);
      delete this;  // the connection closes itself: the loop must not touch it again
    }
    EventLoop& loop;
    int fd;
  };
  loop.add(a.get(), EPOLLIN, new OneShot(loop, a.get()));
  make_readable(b.get());
  loop.run_once(kWaitLimitMs);
  EXPECT_FALSE(loop.watching(a.get()));
}

// Two connections, both readable in the same batch. Whichever handler runs
// first closes the other one, as a server does when one client's message
// makes it drop another (a kick, a duplicate login, a full room).
struct Closer : IoHandler {
  EventLoop* loop = nullptr;
  Closer* other = nullptr;
  Fd* other_fd = nullptr;
  bool closed = false;  // another handler closed this connection
  int calls_after_close = 0;
  int calls = 0;
  void on_io(uint32_t) override {
    ++calls;
    if (closed) {
      ++calls_after_close;
      return;
    }
    if (!other->closed) {
      loop->remove(other_fd->get());
      other_fd->reset();
      other->closed = true;
    }
  }
};

TEST_F(Ch10_EventLoop, StaleEventAfterRemoveIsSkipped) {
  EventLoop loop;
  Fd a1, a2, b1, b2;
  ASSERT_EQ(make_socketpair(a1, a2), 0);
  ASSERT_EQ(make_socketpair(b1, b2), 0);
  Closer a, b;
  a.loop = b.loop = &loop;
  a.other = &b;
  a.other_fd = &b1;
  b.other = &a;
  b.other_fd = &a1;
  loop.add(a1.get(), EPOLLIN, &a);
  loop.add(b1.get(), EPOLLIN, &b);
  make_readable(a2.get());
  make_readable(b2.get());
  ASSERT_EQ(loop.run_once(kWaitLimitMs), 2) << "both events must arrive in one batch";
  EXPECT_EQ(a.calls + b.calls, 1) << "the closed connection's event must not be dispatched";
  EXPECT_EQ(a.calls_after_close + b.calls_after_close, 0);
  EXPECT_EQ(loop.stale_events_skipped(), 1u);
}

// The same, but the handler then accepts a new connection, which the kernel
// gives the lowest free number: the one just closed. The old event in the
// batch now names a live registration, of a different connection.
struct CloseAndReuse : IoHandler {
  EventLoop* loop = nullptr;
  Fd* other_fd = nullptr;  // the connection this handler closes
  bool done = false;
  Fd fresh, fresh_peer;    // the "new connection" that reuses the number
  Recorder fresh_handler;  // must not hear about the old event
  int reused_number = -1;
  void on_io(uint32_t) override {
    if (done) return;
    done = true;
    int old_number = other_fd->get();
    loop->remove(old_number);
    other_fd->reset();
    make_socketpair(fresh, fresh_peer);  // nothing written: not readable
    reused_number = fresh.get();
    fresh_handler.fd = fresh.get();
    if (reused_number == old_number) loop->add(fresh.get(), EPOLLIN, &fresh_handler);
  }
};

TEST_F(Ch10_EventLoop, StaleEventAfterFdReuseIsSkipped) {
  EventLoop loop;
  Fd a1, a2, b1, b2;
  ASSERT_EQ(make_socketpair(a1, a2), 0);
  ASSERT_EQ(make_socketpair(b1, b2), 0);
  CloseAndReuse a, b;
  a.loop = b.loop = &loop;
  a.other_fd = &b1;
  b.other_fd = &a1;
  loop.add(a1.get(), EPOLLIN, &a);
  loop.add(b1.get(), EPOLLIN, &b);
  make_readable(a2.get());
  make_readable(b2.get());
  ASSERT_EQ(loop.run_once(kWaitLimitMs), 2) << "both events must arrive in one batch";
  CloseAndReuse& first = a.done ? a : b;
  ASSERT_NE(first.reused_number, -1);
  ASSERT_TRUE(loop.watching(first.reused_number))
      << "setup: the new connection must have received the closed one's number";
  EXPECT_TRUE(first.fresh_handler.calls.empty())
      << "the event was for the closed connection; the new one, registered under the same "
         "fd number, has nothing to read: the generation check must skip the event";
  EXPECT_EQ(loop.stale_events_skipped(), 1u);
}

TEST_F(Ch10_EventLoop, MoreReadyDescriptorsThanOneBatchAreAllServed) {
  EventLoop loop;
  constexpr int kPairs = 150;  // more than the first epoll_wait batch (64)
  std::vector<Fd> ours(kPairs), theirs(kPairs);
  std::vector<std::unique_ptr<Recorder>> handlers;
  for (int i = 0; i < kPairs; ++i) {
    ASSERT_EQ(make_socketpair(ours[i], theirs[i]), 0);
    handlers.push_back(std::make_unique<Recorder>(ours[i].get()));
    loop.add(ours[i].get(), EPOLLIN, handlers.back().get());
    make_readable(theirs[i].get());
  }
  int served = 0;
  for (int turn = 0; turn < 10 && served < kPairs; ++turn) served += loop.run_once(kWaitLimitMs);
  EXPECT_EQ(served, kPairs) << "level-triggered: what did not fit in one batch is reported again";
  for (const auto& handler : handlers) EXPECT_EQ(handler->calls.size(), 1u);
}

}  // namespace
}  // namespace ws
