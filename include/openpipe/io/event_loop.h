// EventLoop: a single-threaded epoll reactor. It waits for descriptors to
// become ready and calls their handlers, runs timers (a heap of deadlines),
// turns signals into callbacks (signalfd), and runs "before sleep" hooks.
// The loop does not own the fds or the handlers: whoever adds a descriptor
// removes it before closing it, and keeps its handler alive until then.
// No RFC 6455 here: the server (chapter 11) binds connections to this loop.
#pragma once

#include <signal.h>
#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

#include "openpipe/io/fd.h"

namespace ws {

//> event-loop.io-handler
// What a descriptor's owner implements to hear about it. One virtual call
// per event and one pointer per registration: a connection object is its own
// handler, so 10,000 idle connections cost the loop 16 bytes each.
class IoHandler {
 public:
  virtual ~IoHandler() = default;
  // `events` holds the EPOLL* bits that are ready: EPOLLIN, EPOLLOUT, and
  // EPOLLHUP/EPOLLERR, which epoll reports even when not asked for.
  virtual void on_io(uint32_t events) = 0;
};
//< event-loop.io-handler

using TimerId = uint64_t;               // never reused by a loop
inline constexpr TimerId kNoTimer = 0;  // what add_timer() returns on error

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC: never jumps back
  using TimePoint = Clock::time_point;
  using NowFunction = TimePoint (*)();  // tests pass a fake clock
  using Callback = std::function<void()>;
  using SignalCallback = std::function<void(int signo)>;

  // Creates the epoll instance; throws std::system_error if it cannot
  // (start-up only). `now` is where timers read the time.
  explicit EventLoop(NowFunction now = &Clock::now);
  // Closes the epoll and signal descriptors. Signals given to on_signal()
  // stay blocked: unblocking one that is pending would deliver it with its
  // default action, usually the end of the process.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // ---- descriptors: 0, or -1 with errno (as epoll_ctl) ----
  // Watches `fd` for `events` (EPOLLIN, EPOLLOUT, EPOLLRDHUP; level-triggered,
  // so do not pass EPOLLET). EEXIST if `fd` is already registered here.
  int add(int fd, uint32_t events, IoHandler* handler);
  // Changes the events watched; free (no system call) if they are the same.
  // This is how a connection turns EPOLLOUT on while output is queued and
  // off once it is drained. ENOENT if `fd` is not registered.
  int modify(int fd, uint32_t events);
  // Stops watching `fd`. Call it BEFORE close(fd). Events for `fd` already
  // collected in the current turn are dropped (see the stale-event check).
  int remove(int fd);
  bool watching(int fd) const;
  uint32_t interest(int fd) const;  // the events watched, 0 if none

  // ---- running ----
  // Runs turns until stop(); 0 after stop(), -1 with errno if epoll_wait
  // fails with anything but EINTR.
  int run();
  // run() returns at the end of the current turn. For the loop's own thread
  // (a handler, timer, hook or signal callback), not for other threads.
  void stop() { stopping_ = true; }
  // One turn: before-sleep hooks, wait (at most `max_wait_ms`, -1 = no limit
  // but the next timer), dispatch, timers. The number of events, or -1.
  int run_once(int max_wait_ms = -1);

  // ---- timers: callbacks run on the loop's thread, after the I/O events ----
  // Runs `callback` once, `delay` from now (0: on the next turn).
  TimerId add_timer(Clock::duration delay, Callback callback);
  // Runs `callback` every `interval` (> 0) until cancelled.
  TimerId add_periodic(Clock::duration interval, Callback callback);
  // True if the timer was pending and will not run now. A timer callback
  // may cancel any timer, including its own periodic timer.
  bool cancel_timer(TimerId id);
  size_t timer_count() const { return timers_.size(); }
  // Heap entries, cancelled ones included (shows the lazy cleanup at work).
  size_t timer_heap_size() const { return timer_heap_.size(); }
  // The epoll_wait timeout the next turn would use given `max_wait_ms`:
  // the time to the earliest timer, rounded up to whole milliseconds.
  int wait_timeout_ms(int max_wait_ms = -1);
  TimePoint now() const { return now_(); }

  // ---- signals and hooks ----
  // Blocks `signo` for this thread and delivers it through a signalfd as
  // `callback(signo)` on the loop's thread, where any code may run (unlike a
  // signal handler). Call it before starting threads: they inherit the mask.
  // Several deliveries of one signal before the loop reads may merge into one.
  int on_signal(int signo, SignalCallback callback);
  // Runs `hook` once per turn, just before the loop waits: the place to
  // flush every connection's output written during the turn.
  void add_before_sleep(Callback hook);

  // Events skipped because their registration was removed or replaced
  // earlier in the same turn.
  uint64_t stale_events_skipped() const { return stale_events_; }

 private:
  //> event-loop.registration
  // One slot per descriptor number: registrations_[fd]. The generation is
  // stored in the event's data next to the fd and compared on dispatch.
  struct Registration {
    IoHandler* handler = nullptr;  // not owned; null: slot free
    uint32_t events = 0;           // the EPOLL* bits watched
    uint32_t generation = 0;       // which add() made this registration
  };
  //< event-loop.registration

  struct TimerEntry {  // one element of the min-heap
    TimePoint deadline;
    TimerId id;  // ties broken by id: equal deadlines run in order of creation
  };
  struct Timer {
    Callback callback;
    Clock::duration interval;  // zero for a one-shot timer
  };
  // Reads the signalfd and calls the signal callbacks.
  class SignalReader final : public IoHandler {
   public:
    explicit SignalReader(EventLoop& loop) : loop_(loop) {}
    void on_io(uint32_t events) override;

   private:
    EventLoop& loop_;
  };

  static bool later(const TimerEntry& a, const TimerEntry& b);  // heap order
  void dispatch(const epoll_event& event);
  TimerId schedule(Clock::duration delay, Callback callback, Clock::duration interval);
  void run_timers();
  void fire(const TimerEntry& entry, TimePoint now);
  void push_timer(TimePoint deadline, TimerId id);
  void drop_cancelled_front();
  void compact_timer_heap();

  Fd epoll_;                                        // the epoll instance
  NowFunction now_;                                 // the clock timers read
  std::vector<Registration> registrations_;         // indexed by fd
  std::vector<epoll_event> events_;                 // filled by epoll_wait
  uint32_t next_generation_ = 0;                    // bumped by every add()
  bool stopping_ = false;                           // stop() was called
  uint64_t stale_events_ = 0;                       // see stale_events_skipped()
  std::vector<TimerEntry> timer_heap_;              // min-heap by (deadline, id)
  std::unordered_map<TimerId, Timer> timers_;       // live timers; absent = cancelled
  TimerId next_timer_id_ = 1;                       // 0 is kNoTimer
  Fd signal_fd_;                                    // created by the first on_signal()
  sigset_t signal_mask_;                            // the signals signal_fd_ reads
  std::map<int, SignalCallback> signal_callbacks_;  // by signal number
  SignalReader signal_reader_{*this};               // signal_fd_'s handler
  std::deque<Callback> before_sleep_;               // deque: a hook may add hooks
};

}  // namespace ws
