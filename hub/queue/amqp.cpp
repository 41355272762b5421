#include "hub/queue/amqp.hpp"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <condition_variable>
#include <mutex>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <vector>

namespace dh::queue {

namespace {

constexpr amqp_channel_t kChannel = 1;

timeval to_timeval(std::chrono::milliseconds d) {
  if (d.count() < 0) d = std::chrono::milliseconds(0);
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(d.count() / 1000);
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>((d.count() % 1000) * 1000);
  return tv;
}

amqp_bytes_t bytes(std::string_view s) {
  amqp_bytes_t b;
  b.len = s.size();
  b.bytes = const_cast<char*>(s.data());  // rabbitmq-c only reads it; its type is not const
  return b;
}

std::string text(amqp_bytes_t b) {
  return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

// An AMQP table over Fields; the strings stay owned by `fields`, which must outlive it.
class Table {
 public:
  explicit Table(const Fields& fields) {
    entries_.reserve(fields.size());
    for (const auto& [key, value] : fields) {
      amqp_table_entry_t e{};
      e.key = bytes(key);
      if (const auto* s = std::get_if<std::string>(&value)) {
        e.value.kind = AMQP_FIELD_KIND_UTF8;
        e.value.value.bytes = bytes(*s);
      } else {
        e.value.kind = AMQP_FIELD_KIND_I64;
        e.value.value.i64 = std::get<std::int64_t>(value);
      }
      entries_.push_back(e);
    }
  }
  amqp_table_t table() {
    amqp_table_t t;
    t.num_entries = static_cast<int>(entries_.size());
    t.entries = entries_.empty() ? nullptr : entries_.data();
    return t;
  }

 private:
  std::vector<amqp_table_entry_t> entries_;
};

Fields decode(const amqp_table_t& t) {
  Fields out;
  for (int i = 0; i < t.num_entries; ++i) {
    const amqp_table_entry_t& e = t.entries[i];
    const amqp_field_value_t& v = e.value;
    std::string key = text(e.key);
    switch (v.kind) {
      case AMQP_FIELD_KIND_UTF8:
      case AMQP_FIELD_KIND_BYTES:
        out.emplace(std::move(key), text(v.value.bytes));
        break;
      case AMQP_FIELD_KIND_I8:
        out.emplace(std::move(key), std::int64_t{v.value.i8});
        break;
      case AMQP_FIELD_KIND_U8:
        out.emplace(std::move(key), std::int64_t{v.value.u8});
        break;
      case AMQP_FIELD_KIND_I16:
        out.emplace(std::move(key), std::int64_t{v.value.i16});
        break;
      case AMQP_FIELD_KIND_U16:
        out.emplace(std::move(key), std::int64_t{v.value.u16});
        break;
      case AMQP_FIELD_KIND_I32:
        out.emplace(std::move(key), std::int64_t{v.value.i32});
        break;
      case AMQP_FIELD_KIND_U32:
        out.emplace(std::move(key), std::int64_t{v.value.u32});
        break;
      case AMQP_FIELD_KIND_I64:
        out.emplace(std::move(key), std::int64_t{v.value.i64});
        break;
      case AMQP_FIELD_KIND_U64:
      case AMQP_FIELD_KIND_TIMESTAMP:
        out.emplace(std::move(key), static_cast<std::int64_t>(v.value.u64));
        break;
      default:
        break;  // arrays, tables (x-death), floats, booleans: not ours
    }
  }
  return out;
}

Message message_of(const amqp_basic_properties_t& p, amqp_bytes_t body) {
  Message m;
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) m.message_id = text(p.message_id);
  if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) m.content_type = text(p.content_type);
  if (p._flags & AMQP_BASIC_TYPE_FLAG) m.type = text(p.type);
  if (p._flags & AMQP_BASIC_CORRELATION_ID_FLAG) m.correlation_id = text(p.correlation_id);
  if (p._flags & AMQP_BASIC_REPLY_TO_FLAG) m.reply_to = text(p.reply_to);
  m.persistent = (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) && p.delivery_mode == AMQP_DELIVERY_PERSISTENT;
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) m.headers = decode(p.headers);
  m.body = text(body);
  return m;
}

std::string close_text(const char* who, std::uint16_t code, amqp_bytes_t reply) {
  return std::string(who) + " closed by the broker: " + std::to_string(code) + " " + text(reply);
}

std::string reply_text(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "ok";
    case AMQP_RESPONSE_NONE:
      return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(r.reply.decoded);
        return close_text("connection", m->reply_code, m->reply_text);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(r.reply.decoded);
        return close_text("channel", m->reply_code, m->reply_text);
      }
      return "the broker answered with an unexpected method";
  }
  return "unknown reply";
}

// Shuts the socket down when the owner's call outlives its deadline: rabbitmq-c writes without a
// deadline (basic.publish to a broker that stopped reading, under a resource alarm, would block
// for ever). Only the OS socket is touched, never rabbitmq-c's state, so this thread needs no
// share of the connection's; the fd stays open (and cannot be reused) until stop().
class Watchdog {
 public:
  Watchdog() = default;
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() { stop(); }

  void start(int fd) {
    fd_ = fd;
    thread_ = std::thread([this] { run(); });
  }
  void arm(std::chrono::milliseconds timeout) {
    std::lock_guard lock(mutex_);
    deadline_ = std::chrono::steady_clock::now() + timeout;
    fired_ = false;
    cv_.notify_all();
  }
  void disarm() {
    std::lock_guard lock(mutex_);
    deadline_.reset();
  }
  bool fired() {
    std::lock_guard lock(mutex_);
    return fired_;
  }
  void sever() {
    std::lock_guard lock(mutex_);
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      fd_ = -1;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (!deadline_) {
        cv_.wait(lock);
        continue;
      }
      const auto at = *deadline_;
      cv_.wait_until(lock, at);
      if (!stopping_ && deadline_ && *deadline_ == at && std::chrono::steady_clock::now() >= at) {
        if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
        fired_ = true;
        deadline_.reset();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  bool fired_ = false;
  bool stopping_ = false;
  int fd_ = -1;
  std::thread thread_;
};

class Armed {
 public:
  Armed(Watchdog& w, std::chrono::milliseconds timeout) : w_(w) { w_.arm(timeout); }
  ~Armed() { w_.disarm(); }
  Armed(const Armed&) = delete;
  Armed& operator=(const Armed&) = delete;

 private:
  Watchdog& w_;
};

}  // namespace

struct Connection::State {
  amqp_connection_state_t conn = nullptr;
  ConnectionOptions options;
  std::string display;
  Watchdog watchdog;

  ~State() {
    watchdog.stop();  // before the socket closes: it must never shut down a reused fd
    if (conn) amqp_destroy_connection(conn);
  }
};

Connection::Connection(std::unique_ptr<State> state) : state_(std::move(state)) {}

Connection::~Connection() {
  if (!state_ || !state_->conn || broken_) return;
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  amqp_channel_close(state_->conn, kChannel, AMQP_REPLY_SUCCESS);
  amqp_connection_close(state_->conn, AMQP_REPLY_SUCCESS);
}

Outcome<std::unique_ptr<Connection>> Connection::open(const BrokerAddress& broker, const ConnectionOptions& options) {
  auto st = std::make_unique<State>();
  st->options = options;
  st->display = to_display(broker);
  const std::string where = " (" + st->display + ")";
  st->conn = amqp_new_connection();
  if (!st->conn) return make_error("cannot allocate an AMQP connection");
  amqp_socket_t* socket = amqp_tcp_socket_new(st->conn);
  if (!socket) return make_error("cannot allocate an AMQP socket");
  const timeval connect_tv = to_timeval(options.connect_timeout);
  if (const int rc = amqp_socket_open_noblock(socket, broker.host.c_str(), broker.port, &connect_tv);
      rc != AMQP_STATUS_OK)
    return make_error(std::string("cannot connect to the broker") + where + ": " + amqp_error_string2(rc));
  st->watchdog.start(amqp_socket_get_sockfd(socket));

  Armed guard(st->watchdog, options.connect_timeout);
  amqp_set_handshake_timeout(st->conn, &connect_tv);
  const timeval rpc_tv = to_timeval(options.operation_timeout);
  amqp_set_rpc_timeout(st->conn, &rpc_tv);

  // Client properties: our name for the broker's listings, and the capabilities we handle
  // (connection.blocked: the broker tells us when an alarm blocks publishing).
  amqp_table_entry_t caps[2]{};
  caps[0].key = amqp_cstring_bytes("connection.blocked");
  caps[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  caps[0].value.value.boolean = 1;
  caps[1].key = amqp_cstring_bytes("consumer_cancel_notify");
  caps[1].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  caps[1].value.value.boolean = 1;
  amqp_table_entry_t props[2]{};
  props[0].key = amqp_cstring_bytes("capabilities");
  props[0].value.kind = AMQP_FIELD_KIND_TABLE;
  props[0].value.value.table.num_entries = 2;
  props[0].value.value.table.entries = caps;
  props[1].key = amqp_cstring_bytes("connection_name");
  props[1].value.kind = AMQP_FIELD_KIND_UTF8;
  props[1].value.value.bytes = bytes(options.name.empty() ? std::string_view("dossier-hub") : options.name);
  amqp_table_t properties{2, props};

  const amqp_rpc_reply_t login = amqp_login_with_properties(
      st->conn, broker.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, static_cast<int>(options.heartbeat.count()),
      &properties, AMQP_SASL_METHOD_PLAIN, broker.user.c_str(), broker.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    const bool timed_out = st->watchdog.fired();
    return make_error("cannot log in to the broker" + where + ": " +
                      (timed_out ? std::string("timed out") : reply_text(login)));
  }
  amqp_channel_open(st->conn, kChannel);
  if (const auto r = amqp_get_rpc_reply(st->conn); r.reply_type != AMQP_RESPONSE_NORMAL)
    return make_error("cannot open a channel" + where + ": " + reply_text(r));
  return std::unique_ptr<Connection>(new Connection(std::move(st)));
}

Error Connection::fail(std::string reason) {
  if (state_->watchdog.fired())
    reason = "timed out after " + std::to_string(state_->options.operation_timeout.count()) + " ms (" + reason + ")";
  if (!broken_) broken_ = reason;
  return make_error(std::move(reason));
}

Outcome<void> Connection::check_rpc(std::string_view what) {
  const amqp_rpc_reply_t r = amqp_get_rpc_reply(state_->conn);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return {};
  return fail(std::string(what) + ": " + reply_text(r));
}

Outcome<void> Connection::declare_exchange(std::string_view name, std::string_view type) {
  if (broken_) return make_error(*broken_);
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  amqp_exchange_declare(state_->conn, kChannel, bytes(name), bytes(type), 0, 1, 0, 0, amqp_empty_table);
  return check_rpc("declaring exchange " + std::string(name));
}

Outcome<void> Connection::declare_queue(std::string_view name, const Fields& arguments) {
  if (broken_) return make_error(*broken_);
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  Table args(arguments);
  amqp_queue_declare(state_->conn, kChannel, bytes(name), 0, 1, 0, 0, args.table());
  return check_rpc("declaring queue " + std::string(name));
}

Outcome<void> Connection::bind_queue(std::string_view queue, std::string_view exchange, std::string_view key) {
  if (broken_) return make_error(*broken_);
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  amqp_queue_bind(state_->conn, kChannel, bytes(queue), bytes(exchange), bytes(key), amqp_empty_table);
  return check_rpc("binding queue " + std::string(queue));
}

Outcome<std::uint32_t> Connection::delete_queue(std::string_view name) {
  if (broken_) return make_error(*broken_);
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  const auto* ok = amqp_queue_delete(state_->conn, kChannel, bytes(name), 0, 0);
  if (auto r = check_rpc("deleting queue " + std::string(name)); !r) return r.error();
  return ok ? ok->message_count : 0;
}

Outcome<void> Connection::delete_exchange(std::string_view name) {
  if (broken_) return make_error(*broken_);
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  amqp_exchange_delete(state_->conn, kChannel, bytes(name), 0);
  return check_rpc("deleting exchange " + std::string(name));
}

Outcome<std::uint32_t> Connection::ready_count(std::string_view queue) {
  if (broken_) return make_error(*broken_);
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  const auto* ok = amqp_queue_declare(state_->conn, kChannel, bytes(queue), 1, 0, 0, 0, amqp_empty_table);
  if (auto r = check_rpc("looking at queue " + std::string(queue)); !r) return r.error();
  return ok ? ok->message_count : 0;
}

Outcome<void> Connection::enable_confirms() {
  if (broken_) return make_error(*broken_);
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  amqp_confirm_select(state_->conn, kChannel);
  if (auto r = check_rpc("turning publisher confirms on"); !r) return r;
  confirming_ = true;
  next_publish_seq_ = 1;
  return {};
}

Outcome<void> Connection::set_prefetch(std::uint16_t count) {
  if (broken_) return make_error(*broken_);
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  amqp_basic_qos(state_->conn, kChannel, 0, count, 0);
  return check_rpc("setting the prefetch");
}

Outcome<std::string> Connection::consume(std::string_view queue) {
  if (broken_) return make_error(*broken_);
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  const auto* ok =
      amqp_basic_consume(state_->conn, kChannel, bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  if (auto r = check_rpc("consuming from " + std::string(queue)); !r) return r.error();
  return ok ? text(ok->consumer_tag) : std::string();
}

Outcome<std::uint64_t> Connection::publish(std::string_view exchange, std::string_view routing_key,
                                           const Message& message, bool mandatory) {
  if (broken_) return make_error(*broken_);
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  Table headers(message.headers);
  amqp_basic_properties_t p{};
  p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
  p.delivery_mode = message.persistent ? AMQP_DELIVERY_PERSISTENT : AMQP_DELIVERY_NONPERSISTENT;
  p.headers = headers.table();
  if (!message.message_id.empty()) {
    p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    p.message_id = bytes(message.message_id);
  }
  if (!message.content_type.empty()) {
    p._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    p.content_type = bytes(message.content_type);
  }
  if (!message.type.empty()) {
    p._flags |= AMQP_BASIC_TYPE_FLAG;
    p.type = bytes(message.type);
  }
  if (!message.correlation_id.empty()) {
    p._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
    p.correlation_id = bytes(message.correlation_id);
  }
  if (!message.reply_to.empty()) {
    p._flags |= AMQP_BASIC_REPLY_TO_FLAG;
    p.reply_to = bytes(message.reply_to);
  }
  const int rc = amqp_basic_publish(state_->conn, kChannel, bytes(exchange), bytes(routing_key), mandatory ? 1 : 0, 0,
                                    &p, bytes(message.body));
  if (rc != AMQP_STATUS_OK) return fail(std::string("publishing: ") + amqp_error_string2(rc));
  return confirming_ ? next_publish_seq_++ : 0;
}

Outcome<void> Connection::ack(std::uint64_t delivery_tag) {
  if (broken_) return make_error(*broken_);
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  if (const int rc = amqp_basic_ack(state_->conn, kChannel, delivery_tag, 0); rc != AMQP_STATUS_OK)
    return fail(std::string("acknowledging: ") + amqp_error_string2(rc));
  return {};
}

Outcome<void> Connection::reject(std::uint64_t delivery_tag, bool requeue) {
  if (broken_) return make_error(*broken_);
  Armed guard(state_->watchdog, state_->options.operation_timeout);
  if (const int rc = amqp_basic_reject(state_->conn, kChannel, delivery_tag, requeue ? 1 : 0); rc != AMQP_STATUS_OK)
    return fail(std::string("rejecting: ") + amqp_error_string2(rc));
  return {};
}

Outcome<std::optional<Event>> Connection::wait(std::chrono::milliseconds timeout) {
  if (broken_) return make_error(*broken_);
  // The frames decoded by the previous call are released here: everything was copied out.
  amqp_maybe_release_buffers(state_->conn);
  Armed guard(state_->watchdog, std::max(timeout, std::chrono::milliseconds(0)) + state_->options.operation_timeout);
  const timeval tv = to_timeval(timeout);
  amqp_frame_t frame;
  const int rc = amqp_simple_wait_frame_noblock(state_->conn, &frame, &tv);
  if (rc == AMQP_STATUS_TIMEOUT) return std::optional<Event>();
  if (rc != AMQP_STATUS_OK) return fail(std::string("waiting for the broker: ") + amqp_error_string2(rc));
  return handle_frame(&frame);
}

Outcome<std::optional<Event>> Connection::handle_frame(const void* raw) {
  const auto& frame = *static_cast<const amqp_frame_t*>(raw);
  if (frame.frame_type != AMQP_FRAME_METHOD) return fail("the broker sent a content frame out of place");
  const void* decoded = frame.payload.method.decoded;
  switch (frame.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
      const auto* m = static_cast<const amqp_basic_ack_t*>(decoded);
      return std::optional<Event>(Confirm{true, m->delivery_tag, m->multiple != 0});
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* m = static_cast<const amqp_basic_nack_t*>(decoded);
      return std::optional<Event>(Confirm{false, m->delivery_tag, m->multiple != 0});
    }
    case AMQP_BASIC_DELIVER_METHOD: {
      const auto* m = static_cast<const amqp_basic_deliver_t*>(decoded);
      Deliver d;  // copied before reading the content: the method's memory may be reused
      d.tag = m->delivery_tag;
      d.redelivered = m->redelivered != 0;
      d.exchange = text(m->exchange);
      d.routing_key = text(m->routing_key);
      amqp_message_t msg;
      const amqp_rpc_reply_t r = amqp_read_message(state_->conn, frame.channel, &msg, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) return fail("reading a delivery: " + reply_text(r));
      d.message = message_of(msg.properties, msg.body);
      amqp_destroy_message(&msg);
      return std::optional<Event>(std::move(d));
    }
    case AMQP_BASIC_RETURN_METHOD: {
      const auto* m = static_cast<const amqp_basic_return_t*>(decoded);
      Returned ret;
      ret.code = m->reply_code;
      ret.reason = text(m->reply_text);
      ret.routing_key = text(m->routing_key);
      amqp_message_t msg;
      const amqp_rpc_reply_t r = amqp_read_message(state_->conn, frame.channel, &msg, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) return fail("reading a returned message: " + reply_text(r));
      ret.message = message_of(msg.properties, msg.body);
      amqp_destroy_message(&msg);
      return std::optional<Event>(std::move(ret));
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
      const auto* m = static_cast<const amqp_channel_close_t*>(decoded);
      std::string reason = close_text("channel", m->reply_code, m->reply_text);
      amqp_channel_close_ok_t ok{};
      amqp_send_method(state_->conn, frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
      return fail(std::move(reason));
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
      const auto* m = static_cast<const amqp_connection_close_t*>(decoded);
      std::string reason = close_text("connection", m->reply_code, m->reply_text);
      amqp_connection_close_ok_t ok{};
      amqp_send_method(state_->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
      return fail(std::move(reason));
    }
    case AMQP_BASIC_CANCEL_METHOD:
      return fail("the broker cancelled the consumer (its queue was deleted?)");
    case AMQP_CONNECTION_BLOCKED_METHOD:
      blocked_ = true;
      return std::optional<Event>();
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
      blocked_ = false;
      return std::optional<Event>();
    default:
      return std::optional<Event>();  // nothing we asked for (e.g. basic.qos-ok answered late)
  }
}

void Connection::sever() noexcept {
  state_->watchdog.sever();
}

}  // namespace dh::queue
