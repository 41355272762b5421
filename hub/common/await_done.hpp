// Awaiting a callback-style operation from a coroutine: the store (its writer thread) and the AMQP
// publisher answer on threads of their own; the result is posted back to the awaiting coroutine's
// executor, so nothing of the coroutine runs on the answering thread but the post.
#pragma once

#include "hub/common/result.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <utility>

namespace dh {

namespace detail {

template <class T, bool kTracked, class Start>
boost::asio::awaitable<Outcome<T>> await_done(Start start) {
  co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(Outcome<T>)>(
      [start = std::move(start)](auto handler) mutable {
        auto ex = [&] {
          if constexpr (kTracked)
            return boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                       boost::asio::execution::outstanding_work.tracked);
          else
            return boost::asio::get_associated_executor(handler);
        }();
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        start([ex, h](Outcome<T> r) mutable {
          boost::asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
        });
      },
      boost::asio::use_awaitable);
}

}  // namespace detail

// `start(done)` begins an operation that calls done(Outcome<T>) exactly once, on any thread.
// The awaiting coroutine's executor is taken from the handler inside the initiation, never captured
// in a lambda of the co_await expression: GCC 12 destroys such a temporary twice, which on a strand
// executor drops the strand's reference count below its holders and frees it under them.
template <class T, class Start>
boost::asio::awaitable<Outcome<T>> await_done(Start start) {
  return detail::await_done<T, false>(std::move(start));
}

// The same, and the io_context does not run out of work while the answer is awaited (the
// dispatcher: its outcomes are recorded before its io_context may stop).
template <class T, class Start>
boost::asio::awaitable<Outcome<T>> await_done_tracked(Start start) {
  return detail::await_done<T, true>(std::move(start));
}

}  // namespace dh
