// The epoll reactor. See include/openpipe/io/event_loop.h.
#include "openpipe/io/event_loop.h"

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
uint64_t pack(int fd, uint32_t generation) {
  return (uint64_t{generation} << 32) | static_cast<uint32_t>(fd);
}

}  // namespace

// Orders the heap so the front is the earliest deadline (std heaps are
// max-heaps: "less" here means "later").
bool EventLoop::later(const TimerEntry& a, const TimerEntry& b) {
  if (a.deadline != b.deadline) return a.deadline > b.deadline;
  return a.id > b.id;
}

EventLoop::EventLoop(NowFunction now)
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)), now_(now), events_(kInitialEvents) {
  if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  sigemptyset(&signal_mask_);
}

EventLoop::~EventLoop() = default;

// ---- descriptors ----------------------------------------------------------

//> event-loop.add
int EventLoop::add(int fd, uint32_t events, IoHandler* handler) {
  if (fd < 0 || handler == nullptr) {
    errno = fd < 0 ? EBADF : EINVAL;
    return -1;
  }
  if (watching(fd)) {
    errno = EEXIST;  // removed without remove()? closed without remove()?
    return -1;
  }
  // A fresh generation for every registration: if this fd number was used
  // before in this turn, events collected for the old one no longer match.
  uint32_t generation = ++next_generation_;
  epoll_event event{};
  event.events = events;
  event.data.u64 = pack(fd, generation);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) return -1;
  if (static_cast<size_t>(fd) >= registrations_.size()) registrations_.resize(fd + 1);
  registrations_[fd] = Registration{handler, events, generation};
  return 0;
}
//< event-loop.add

//> event-loop.modify-remove
int EventLoop::modify(int fd, uint32_t events) {
  if (!watching(fd)) {
    errno = ENOENT;
    return -1;
  }
  Registration& registration = registrations_[fd];
  if (registration.events == events) return 0;  // nothing to tell the kernel
  epoll_event event{};
  event.events = events;
  event.data.u64 = pack(fd, registration.generation);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event) != 0) return -1;
  registration.events = events;
  return 0;
}

int EventLoop::remove(int fd) {
  if (!watching(fd)) {
    errno = ENOENT;
    return -1;
  }
  // Forget it first: even if the kernel call fails (the fd was closed too
  // early: EBADF), no event may reach the handler any more.
  registrations_[fd] = Registration{};
  return ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}
//< event-loop.modify-remove

bool EventLoop::watching(int fd) const {
  return fd >= 0 && static_cast<size_t>(fd) < registrations_.size() &&
         registrations_[fd].handler != nullptr;
}

uint32_t EventLoop::interest(int fd) const {
  return watching(fd) ? registrations_[fd].events : 0;
}

// ---- running --------------------------------------------------------------

int EventLoop::run() {
  stopping_ = false;
  while (!stopping_) {
    if (run_once(-1) < 0) return -1;
  }
  return 0;
}

//> event-loop.run-once
int EventLoop::run_once(int max_wait_ms) {
  // 1. Flush: hooks write what handlers and timers queued in the last turn.
  //    Index loop: a hook may add a hook (a deque keeps references valid).
  for (size_t i = 0, n = before_sleep_.size(); i < n; ++i) before_sleep_[i]();
  // 2. Sleep until a descriptor is ready or the earliest timer is due.
  int timeout = stopping_ ? 0 : wait_timeout_ms(max_wait_ms);
  int n = ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()), timeout);
  if (n < 0) {
    if (errno != EINTR) return -1;
    n = 0;  // a signal interrupted the wait: just run the timers
  }
  // 3. Dispatch every ready descriptor of the batch.
  for (int i = 0; i < n; ++i) dispatch(events_[i]);
  // A full batch means more may be waiting: take more next time.
  if (static_cast<size_t>(n) == events_.size() && events_.size() < kMaxEvents) {
    events_.resize(events_.size() * 2);
  }
  // 4. Timers whose deadline has passed.
  run_timers();
  return n;
}
//< event-loop.run-once

//> event-loop.dispatch
void EventLoop::dispatch(const epoll_event& event) {
  int fd = static_cast<int>(event.data.u64 & 0xffffffffu);
  uint32_t generation = static_cast<uint32_t>(event.data.u64 >> 32);
  // epoll_wait returned a whole batch at once. A handler earlier in this
  // batch may have removed this fd (the slot is empty now), or removed it,
  // closed it and registered a new connection that got the same number (the
  // slot holds another generation). Either way this event is about a
  // descriptor that no longer exists: calling the handler would hand it a
  // dangling object, or tell the new connection it is readable when it is not.
  const Registration* registration =
      static_cast<size_t>(fd) < registrations_.size() ? &registrations_[fd] : nullptr;
  if (registration == nullptr || registration->handler == nullptr ||
      registration->generation != generation) {
    ++stale_events_;
    return;
  }
  registration->handler->on_io(event.events);
}
//< event-loop.dispatch

// ---- timers ---------------------------------------------------------------

TimerId EventLoop::add_timer(Clock::duration delay, Callback callback) {
  return schedule(std::max(delay, Clock::duration::zero()), std::move(callback),
                  Clock::duration::zero());
}

TimerId EventLoop::add_periodic(Clock::duration interval, Callback callback) {
  if (interval <= Clock::duration::zero()) return kNoTimer;  // would never stop firing
  return schedule(interval, std::move(callback), interval);
}

TimerId EventLoop::schedule(Clock::duration delay, Callback callback, Clock::duration interval) {
  if (!callback) return kNoTimer;
  TimerId id = next_timer_id_++;
  timers_.emplace(id, Timer{std::move(callback), interval});
  push_timer(now_() + delay, id);
  return id;
}

void EventLoop::push_timer(TimePoint deadline, TimerId id) {
  timer_heap_.push_back(TimerEntry{deadline, id});
  std::push_heap(timer_heap_.begin(), timer_heap_.end(), later);
}

//> event-loop.cancel-timer
bool EventLoop::cancel_timer(TimerId id) {
  // Lazy: the heap entry stays and is skipped when it reaches the front.
  // Finding it inside the heap would cost O(n); erasing the map entry is O(1).
  if (timers_.erase(id) == 0) return false;
  // But entries of cancelled timers must not pile up (a connection that
  // re-arms its timeout on every message would leave one behind each time):
  // once they outnumber the live ones, rebuild the heap without them.
  if (timer_heap_.size() >= kMinHeapToCompact && timer_heap_.size() > 2 * timers_.size()) {
    compact_timer_heap();
  }
  return true;
}
//< event-loop.cancel-timer

void EventLoop::compact_timer_heap() {
  std::erase_if(timer_heap_, [this](const TimerEntry& e) { return !timers_.contains(e.id); });
  std::make_heap(timer_heap_.begin(), timer_heap_.end(), later);
}

void EventLoop::drop_cancelled_front() {
  while (!timer_heap_.empty() && !timers_.contains(timer_heap_.front().id)) {
    std::pop_heap(timer_heap_.begin(), timer_heap_.end(), later);
    timer_heap_.pop_back();
  }
}

//> event-loop.wait-timeout
int EventLoop::wait_timeout_ms(int max_wait_ms) {
  drop_cancelled_front();  // a cancelled timer must not cut the sleep short
  if (timer_heap_.empty()) return max_wait_ms;
  Clock::duration left = timer_heap_.front().deadline - now_();
  if (left <= Clock::duration::zero()) return 0;
  // Round up: waking 0.3 ms early finds nothing due and costs a wasted turn.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  int timeout = ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
  return (max_wait_ms >= 0 && max_wait_ms < timeout) ? max_wait_ms : timeout;
}
//< event-loop.wait-timeout

//> event-loop.run-timers
void EventLoop::run_timers() {
  // Take every due entry out first, then run them. A timer added by one of
  // these callbacks goes into the heap and runs next turn, even with delay
  // 0, so a callback that re-adds itself cannot keep this loop going forever.
  TimePoint now = now_();
  std::vector<TimerEntry> due;
  while (!timer_heap_.empty() && timer_heap_.front().deadline <= now) {
    std::pop_heap(timer_heap_.begin(), timer_heap_.end(), later);
    due.push_back(timer_heap_.back());
    timer_heap_.pop_back();
  }
  for (const TimerEntry& entry : due) fire(entry, now);
}

void EventLoop::fire(const TimerEntry& entry, TimePoint now) {
  auto it = timers_.find(entry.id);
  if (it == timers_.end()) return;  // cancelled, maybe by an earlier callback
  if (it->second.interval == Clock::duration::zero()) {
    auto node = timers_.extract(it);  // one-shot: gone before it runs
    node.mapped().callback();
    return;
  }
  // Periodic: move the callback out while it runs (it may add timers, which
  // can rehash timers_), then put it back unless it cancelled itself.
  Callback callback = std::move(it->second.callback);
  Clock::duration interval = it->second.interval;
  callback();
  it = timers_.find(entry.id);
  if (it == timers_.end()) return;
  it->second.callback = std::move(callback);
  // Next deadline from the previous one, so the period does not drift; if
  // the loop fell more than a period behind, skip the missed runs.
  TimePoint next = entry.deadline + interval;
  push_timer(next > now ? next : now + interval, entry.id);
}
//< event-loop.run-timers

// ---- signals and hooks ----------------------------------------------------

//> event-loop.on-signal
int EventLoop::on_signal(int signo, SignalCallback callback) {
  sigset_t one;
  sigemptyset(&one);
  // SIGKILL and SIGSTOP cannot be blocked or caught: refuse rather than
  // pretend (sigaddset checks the range, not this).
  if (signo == SIGKILL || signo == SIGSTOP || sigaddset(&one, signo) != 0 || !callback) {
    errno = EINVAL;
    return -1;
  }
  // Blocked, the signal is never delivered the classic way (a handler
  // interrupting whatever code runs); it waits, pending, until read from
  // the signalfd: an ordinary readable descriptor in the loop.
  if (int rc = ::pthread_sigmask(SIG_BLOCK, &one, nullptr); rc != 0) {
    errno = rc;  // pthread_* functions return the error instead of setting errno
    return -1;
  }
  sigaddset(&signal_mask_, signo);
  // signalfd(-1, ...) creates the descriptor; signalfd(fd, ...) updates its mask.
  int fd =
      ::signalfd(signal_fd_ ? signal_fd_.get() : -1, &signal_mask_, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return -1;
  if (!signal_fd_) {
    signal_fd_.reset(fd);
    if (add(fd, EPOLLIN, &signal_reader_) != 0) return -1;
  }
  signal_callbacks_[signo] = std::move(callback);
  return 0;
}
//< event-loop.on-signal

//> event-loop.signal-read
void EventLoop::SignalReader::on_io(uint32_t) {
  signalfd_siginfo info;
  // Non-blocking: read every pending signal, then EAGAIN ends the loop.
  while (::read(loop_.signal_fd_.get(), &info, sizeof info) == sizeof info) {
    auto it = loop_.signal_callbacks_.find(static_cast<int>(info.ssi_signo));
    if (it != loop_.signal_callbacks_.end()) it->second(static_cast<int>(info.ssi_signo));
  }
}
//< event-loop.signal-read

void EventLoop::add_before_sleep(Callback hook) {
  if (hook) before_sleep_.push_back(std::move(hook));
}

}  // namespace ws
