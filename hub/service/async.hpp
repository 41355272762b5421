// Awaiting the store from a coroutine: the store completes on its writer thread; the result is
// posted back to the awaiting coroutine's executor, so nothing runs on the writer but the post.
#pragma once

#include "hub/common/result.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <memory>

namespace dh::service {

// `start(done)` begins an operation that calls done(Outcome<T>) exactly once, on any thread.
// The awaiting coroutine's executor is taken from the handler inside the initiation, never captured
// in a lambda of the co_await expression: GCC 12 destroys such a temporary twice, which on a strand
// executor drops the strand's reference count below its holders and frees it under them.
template <class T, class Start>
boost::asio::awaitable<Outcome<T>> await_done(Start start) {
  co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(Outcome<T>)>(
      [start = std::move(start)](auto handler) mutable {
        auto ex = boost::asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        start([ex, h](Outcome<T> r) mutable {
          boost::asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
        });
      },
      boost::asio::use_awaitable);
}

}  // namespace dh::service
