// EXERCISE SKELETON for chapter 10 (tutorial/10-event-loop.md): src/io/event_loop.cpp
// with the function bodies replaced by todo(). Write them here; run
//   make exercise CH=10
// and the chapter's tests say what is still wrong. Comments and signatures are
// the real ones; the stubs name the chapter's region that shows the answer.
// Regenerate (this overwrites your work) after the real module changes:
//   python3 exercises/tools/skeleton.py src/io/event_loop.cpp 10-event-loop.md
// The epoll reactor. See include/openpipe/io/event_loop.h.
#include "openpipe/io/event_loop.h"
#include "todo.h"  // todo(): what every stub below calls

#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>

namespace ws {
namespace {

constexpr size_t kInitialEvents = 64;     // epoll_wait batch, grows when full
constexpr size_t kMaxEvents = 4096;       // ...up to this
constexpr size_t kMinHeapToCompact = 64;  // below this, never worth a rebuild

// epoll hands back the 64-bit data we registered: the fd in the low half,
// the registration's generation in the high half.

}  // namespace

// Orders the heap so the front is the earliest deadline (std heaps are
// max-heaps: "less" here means "later").
bool EventLoop::later(const TimerEntry& a, const TimerEntry& b) {
  (void)a;
  (void)b;
  todo("EventLoop::later (tutorial/10-event-loop.md)");
}

EventLoop::EventLoop(NowFunction now)
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)), now_(now), events_(kInitialEvents) {
  (void)now;
  todo("EventLoop::EventLoop (tutorial/10-event-loop.md)");
}

EventLoop::~EventLoop() = default;

// ---- descriptors ----------------------------------------------------------

int EventLoop::add(int fd, uint32_t events, IoHandler* handler) {
  (void)fd;
  (void)events;
  (void)handler;
  todo("EventLoop::add (tutorial/10-event-loop.md, region event-loop.add)");
}

int EventLoop::modify(int fd, uint32_t events) {
  (void)fd;
  (void)events;
  todo("EventLoop::modify (tutorial/10-event-loop.md, region event-loop.modify-remove)");
}

int EventLoop::remove(int fd) {
  (void)fd;
  todo("EventLoop::remove (tutorial/10-event-loop.md, region event-loop.modify-remove)");
}

bool EventLoop::watching(int fd) const {
  (void)fd;
  todo("EventLoop::watching (tutorial/10-event-loop.md)");
}

uint32_t EventLoop::interest(int fd) const {
  (void)fd;
  todo("EventLoop::interest (tutorial/10-event-loop.md)");
}

// ---- running --------------------------------------------------------------

int EventLoop::run() {
  todo("EventLoop::run (tutorial/10-event-loop.md)");
}

int EventLoop::run_once(int max_wait_ms) {
  (void)max_wait_ms;
  todo("EventLoop::run_once (tutorial/10-event-loop.md, region event-loop.run-once)");
}

void EventLoop::dispatch(const epoll_event& event) {
  (void)event;
  todo("EventLoop::dispatch (tutorial/10-event-loop.md, region event-loop.dispatch)");
}

// ---- timers ---------------------------------------------------------------

TimerId EventLoop::add_timer(Clock::duration delay, Callback callback) {
  (void)delay;
  (void)callback;
  todo("EventLoop::add_timer (tutorial/10-event-loop.md)");
}

TimerId EventLoop::add_periodic(Clock::duration interval, Callback callback) {
  (void)interval;
  (void)callback;
  todo("EventLoop::add_periodic (tutorial/10-event-loop.md)");
}

TimerId EventLoop::schedule(Clock::duration delay, Callback callback, Clock::duration interval) {
  (void)delay;
  (void)callback;
  (void)interval;
  todo("EventLoop::schedule (tutorial/10-event-loop.md)");
}

void EventLoop::push_timer(TimePoint deadline, TimerId id) {
  (void)deadline;
  (void)id;
  todo("EventLoop::push_timer (tutorial/10-event-loop.md)");
}

bool EventLoop::cancel_timer(TimerId id) {
  (void)id;
  todo("EventLoop::cancel_timer (tutorial/10-event-loop.md, region event-loop.cancel-timer)");
}

void EventLoop::compact_timer_heap() {
  todo("EventLoop::compact_timer_heap (tutorial/10-event-loop.md)");
}

void EventLoop::drop_cancelled_front() {
  todo("EventLoop::drop_cancelled_front (tutorial/10-event-loop.md)");
}

int EventLoop::wait_timeout_ms(int max_wait_ms) {
  (void)max_wait_ms;
  todo("EventLoop::wait_timeout_ms (tutorial/10-event-loop.md, region event-loop.wait-timeout)");
}

void EventLoop::run_timers() {
  todo("EventLoop::run_timers (tutorial/10-event-loop.md, region event-loop.run-timers)");
}

void EventLoop::fire(const TimerEntry& entry, TimePoint now) {
  (void)entry;
  (void)now;
  todo("EventLoop::fire (tutorial/10-event-loop.md, region event-loop.run-timers)");
}

// ---- signals and hooks ----------------------------------------------------

int EventLoop::on_signal(int signo, SignalCallback callback) {
  (void)signo;
  (void)callback;
  todo("EventLoop::on_signal (tutorial/10-event-loop.md, region event-loop.on-signal)");
}

void EventLoop::SignalReader::on_io(uint32_t) {
  todo("EventLoop::SignalReader::on_io (tutorial/10-event-loop.md, region event-loop.signal-read)");
}

void EventLoop::add_before_sleep(Callback hook) {
  (void)hook;
  todo("EventLoop::add_before_sleep (tutorial/10-event-loop.md)");
}

}  // namespace ws
