// The work queue against a live RabbitMQ (tests/servers/rabbitmq.sh; ctest starts it as the
// `rabbitmq` fixture). Each test declares a topology under a prefix of its own and deletes it
// after. Some tests disturb the whole broker (close every connection, raise an alarm, restart it),
// so ctest runs the amqp tests one at a time (RESOURCE_LOCK rabbitmq).
#include "hub/queue/work_queue.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unistd.h>

using namespace dh;
using namespace dh::queue;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using store::OutboxEntry;

namespace {

BrokerAddress broker() {
  const char* url = std::getenv("DH_AMQP_URL");
  auto b = parse_amqp_url(url && *url ? url : "amqp://guest:guest@127.0.0.1:55672/");
  REQUIRE(b.has_value());
  return *b;
}

ConnectionOptions quick(std::string name) {
  ConnectionOptions o;
  o.connect_timeout = 3s;
  o.operation_timeout = 3s;
  o.heartbeat = 10s;
  o.name = std::move(name);
  return o;
}

std::unique_ptr<Connection> connect(const std::string& name = "test admin") {
  auto c = Connection::open(broker(), quick(name));
  INFO((c ? std::string() : c.error().message));
  REQUIRE(c.has_value());
  return std::move(*c);
}

// rabbitmqctl against the test broker, through the script that started it; its standard output.
std::string rabbitmqctl(const std::string& args) {
  const std::string cmd = "bash " DH_SOURCE_DIR "/tests/servers/rabbitmq.sh ctl " + args + " 2>/dev/null";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf{};
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
    ::pclose(p);
  }
  return out;
}

int run_script(const std::string& verb) {
  const std::string cmd = "bash " DH_SOURCE_DIR "/tests/servers/rabbitmq.sh " + verb + " >/dev/null 2>&1";
  return std::system(cmd.c_str());
}

struct Timer {
  Clock::time_point start = Clock::now();
  [[nodiscard]] double seconds() const { return std::chrono::duration<double>(Clock::now() - start).count(); }
};

// A topology of the test's own, declared now and deleted (with its messages) at the end.
struct OwnTopology {
  Topology topology;
  explicit OwnTopology(const std::string& name, std::vector<std::chrono::milliseconds> tiers = {1s, 5s}) {
    static int counter = 0;
    topology.prefix = "dhtest." + name + "." + std::to_string(::getpid()) + "." + std::to_string(++counter) + ".";
    topology.retry_tiers = std::move(tiers);
    auto c = connect();
    auto r = declare_topology(*c, topology);
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
  }
  ~OwnTopology() {
    if (auto c = Connection::open(broker(), quick("test cleanup")))
      if (auto r = delete_topology(**c, topology); !r) WARN("cleanup: " << r.error().message);
  }
  // After a broker restart, a quorum queue elects its leader only once something asks for it, and
  // RabbitMQ 3.10.8 mishandles deleting an at-least-once queue in that moment: the dead-letter
  // worker's pending call fails, and two such failures kill rabbit_fifo_dlx_sup for good (every
  // later declare of such a queue: 541 INTERNAL_ERROR). So wait until every queue has a leader.
  void await_leaders() const {
    const Timer t;
    while (t.seconds() < 30) {
      const std::string listing = rabbitmqctl("list_queues --no-table-headers --quiet name leader state");
      std::size_t ours = 0;
      std::size_t led = 0;
      std::size_t start = 0;
      while (start < listing.size()) {
        const auto end = listing.find('\n', start);
        const std::string line = listing.substr(start, end - start);
        if (line.rfind(topology.prefix, 0) == 0) {
          ++ours;
          if (line.find("\trunning") != std::string::npos && line.find('@') != std::string::npos) ++led;
        }
        start = end == std::string::npos ? listing.size() : end + 1;
      }
      if (ours > 0 && ours == led) return;
      std::this_thread::sleep_for(200ms);
    }
    FAIL("the topology's queues have no leader 30 s after the restart");
  }
  std::uint32_t ready(const std::string& queue) const {
    auto c = connect();
    auto n = c->ready_count(queue);
    REQUIRE(n.has_value());
    return *n;
  }
};

std::vector<OutboxEntry> entries(std::size_t n, const std::string& tag = "e") {
  std::vector<OutboxEntry> out;
  for (std::size_t i = 0; i < n; ++i) {
    OutboxEntry e;
    e.id = tag + "-" + std::to_string(i);
    e.kind = i % 2 ? store::OutboxKind::agency_callback : store::OutboxKind::postal_order;
    e.target = i % 2 ? "hcm-justice" : "postal";
    e.hub_id = "01HUB" + std::to_string(i);
    e.url = "https://postal.example/v1/orders";
    e.content_type = "application/json";
    e.payload = R"({"order_id":")" + e.id + R"("})";
    out.push_back(std::move(e));
  }
  return out;
}

PublisherOptions publisher_options(std::size_t batch = 256) {
  PublisherOptions o;
  o.connection = quick("test publisher");
  o.batch = batch;
  o.confirm_timeout = 5s;
  o.reconnect = {100ms, 1s};
  return o;
}

ConsumerOptions consumer_options(std::uint16_t prefetch, std::string name = "test consumer") {
  ConsumerOptions o;
  o.connection = quick(std::move(name));
  o.prefetch = prefetch;
  o.confirm_timeout = 5s;
  o.reconnect = {100ms, 1s};
  return o;
}

// Publishes until every entry is confirmed (the broker may be coming back) or `patience` passes.
void publish_all(WorkPublisher& p, std::vector<OutboxEntry> todo, std::chrono::seconds patience = 30s) {
  const auto deadline = Clock::now() + patience;
  while (!todo.empty() && Clock::now() < deadline) {
    auto r = p.publish(todo);
    std::set<std::string> left(r.not_confirmed.begin(), r.not_confirmed.end());
    std::erase_if(todo, [&](const OutboxEntry& e) { return !left.contains(e.id); });
    if (!todo.empty()) std::this_thread::sleep_for(100ms);  // the broker's pace, not a test clock
  }
  REQUIRE(todo.empty());
}

// Takes deliveries (acking each) until `want` distinct ids arrived or `patience` passes; connection
// losses on the way are expected and skipped. Returns id -> times delivered.
std::map<std::string, int> drain(WorkConsumer& c, std::size_t want, std::chrono::seconds patience = 30s) {
  std::map<std::string, int> seen;
  const auto deadline = Clock::now() + patience;
  while (seen.size() < want && Clock::now() < deadline) {
    auto d = c.next(200ms);
    if (!d || !*d) continue;
    ++seen[(*d)->entry.id];
    REQUIRE(c.ack(**d).has_value());
  }
  (void)c.flush(2s);
  return seen;
}

}  // namespace

TEST_CASE("1000 publishes are confirmed in batches, without a confirm round trip per message") {
  OwnTopology own("confirms");
  WorkPublisher publisher(broker(), own.topology, publisher_options(256));
  const auto batch = entries(1000);

  const Timer t;
  const auto r = publisher.publish(batch);
  INFO((r.error ? r.error->message : std::string()));
  CHECK(r.confirmed.size() == 1000);
  CHECK(r.not_confirmed.empty());
  CHECK_FALSE(r.error);
  CHECK(std::set<std::string>(r.confirmed.begin(), r.confirmed.end()).size() == 1000);

  // One wait per batch of 256 (4), and the broker's acks cover many publishes each (multiple).
  const auto& s = publisher.stats();
  CHECK(s.batches == 4);
  CHECK(s.confirm_frames >= 4);
  CHECK(s.confirm_frames < 1000);
  WARN("1000 confirmed publishes in " << t.seconds() << " s: " << s.batches << " confirm waits, " << s.confirm_frames
                                      << " confirm frames");
  CHECK(own.ready(own.topology.work_queue()) == 1000);
}

TEST_CASE("a consumer takes at most its prefetch unacked, acks them, and gets every entry as published") {
  OwnTopology own("prefetch");
  WorkPublisher publisher(broker(), own.topology, publisher_options());
  const auto published = entries(60);
  publish_all(publisher, published);

  WorkConsumer consumer(broker(), own.topology, consumer_options(10));
  std::vector<Delivery> held;
  for (;;) {
    auto d = consumer.next(500ms);
    REQUIRE(d.has_value());
    if (!*d) break;
    held.push_back(std::move(**d));
  }
  CHECK(held.size() == 10);  // the broker hands out no more while 10 are unacked

  // Everything as published: the entry's fields travel in the message.
  std::map<std::string, OutboxEntry> by_id;
  for (const auto& e : published) by_id[e.id] = e;
  for (const auto& d : held) {
    const auto& want = by_id.at(d.entry.id);
    CHECK(d.entry.kind == want.kind);
    CHECK(d.entry.target == want.target);
    CHECK(d.entry.hub_id == want.hub_id);
    CHECK(d.entry.url == want.url);
    CHECK(d.entry.content_type == want.content_type);
    CHECK(d.entry.payload == want.payload);
    CHECK(d.entry.attempts == 0);
    CHECK_FALSE(d.redelivered);
  }
  for (const auto& d : held) REQUIRE(consumer.ack(d).has_value());
  CHECK_FALSE(consumer.ack(held.front()).has_value());  // settled already: refused, not sent twice

  auto rest = drain(consumer, 50, 15s);
  CHECK(rest.size() == 50);
  for (const auto& d : held) CHECK_FALSE(rest.contains(d.entry.id));
  REQUIRE(consumer.flush(2s).value());
  CHECK(consumer.stats().acks == 60);
  CHECK(own.ready(own.topology.work_queue()) == 0);
}

TEST_CASE("a retry waits in its delay tier and comes back after about its TTL, while the consumer goes on") {
  OwnTopology own("retry", {1s, 5s});
  CHECK(own.topology.tier_for(800ms) == 1s);
  WorkPublisher publisher(broker(), own.topology, publisher_options());
  WorkConsumer consumer(broker(), own.topology, consumer_options(16));

  publish_all(publisher, entries(1, "slow"));
  auto first = consumer.next(5s);
  REQUIRE(first.has_value());
  REQUIRE(first->has_value());
  REQUIRE((*first)->entry.id == "slow-0");
  const Timer since_retry;
  REQUIRE(consumer.retry(**first, 800ms, "503 from postal").has_value());
  REQUIRE(consumer.flush(5s).value());  // the copy is confirmed in the 1s tier, the original acked
  CHECK(consumer.stats().retries == 1);

  // Meanwhile other work flows: the consumer is not waiting for the retry.
  publish_all(publisher, entries(40, "fast"));
  std::size_t fast = 0;
  std::optional<Delivery> back;
  double fast_done_at = 0;
  double back_at = 0;
  while (!back && since_retry.seconds() < 10) {
    auto d = consumer.next(100ms);
    REQUIRE(d.has_value());
    if (!*d) continue;
    if ((*d)->entry.id == "slow-0") {
      back = std::move(**d);
      back_at = since_retry.seconds();
    } else {
      if (++fast == 40) fast_done_at = since_retry.seconds();
      REQUIRE(consumer.ack(**d).has_value());
    }
  }
  REQUIRE(back);
  CHECK(fast == 40);
  CHECK(fast_done_at < back_at);  // all 40 came and went while the retry waited
  CHECK(back_at >= 0.9);          // the tier's TTL (1 s), not the 800 ms asked for: tiers round up
  // (how soon after the TTL it comes back is the broker's business and the machine's load: not asserted)
  WARN("retry back after " << back_at << " s; the other 40 done after " << fast_done_at << " s");
  CHECK(back->entry.attempts == 1);
  CHECK(back->entry.last_error == "503 from postal");
  CHECK(back->entry.payload == R"({"order_id":"slow-0"})");
  REQUIRE(consumer.ack(*back).has_value());
  REQUIRE(consumer.flush(2s).value());
  CHECK(own.ready(own.topology.tier_queue(1s)) == 0);
  CHECK(own.ready(own.topology.work_queue()) == 0);
}

TEST_CASE("a postponed delivery comes back through its delay tier without an attempt counted") {
  OwnTopology own("postpone", {1s});
  WorkPublisher publisher(broker(), own.topology, publisher_options());
  WorkConsumer consumer(broker(), own.topology, consumer_options(4));
  publish_all(publisher, entries(1, "held"));
  auto first = consumer.next(5s);
  REQUIRE(first.has_value());
  REQUIRE(first->has_value());
  REQUIRE(consumer.postpone(**first, 500ms).has_value());  // e.g. its target's breaker is open
  REQUIRE(consumer.flush(5s).value());
  std::optional<Delivery> back;
  const Timer since;
  while (!back && since.seconds() < 10) {
    auto d = consumer.next(100ms);
    REQUIRE(d.has_value());
    if (*d) back = std::move(**d);
  }
  REQUIRE(back);
  CHECK(back->entry.id == "held-0");
  CHECK(back->entry.attempts == 0);
  REQUIRE(consumer.ack(*back).has_value());
  REQUIRE(consumer.flush(2s).value());
}

TEST_CASE("a dead-lettered delivery lands in the dead-letter queue, whole") {
  OwnTopology own("dead");
  WorkPublisher publisher(broker(), own.topology, publisher_options());
  WorkConsumer consumer(broker(), own.topology, consumer_options(4));
  publish_all(publisher, entries(3, "dl"));

  std::size_t seen = 0;
  while (seen < 3) {
    auto d = consumer.next(5s);
    REQUIRE(d.has_value());
    REQUIRE(d->has_value());
    ++seen;
    if ((*d)->entry.id == "dl-1")
      REQUIRE(consumer.dead_letter(**d).has_value());
    else
      REQUIRE(consumer.ack(**d).has_value());
  }
  REQUIRE(consumer.flush(2s).value());
  CHECK(consumer.stats().dead_letters == 1);

  // Read it back from the dead-letter queue as an operator's tool would.
  auto c = connect("test dead-letter reader");
  REQUIRE(c->consume(own.topology.dead_queue()).has_value());
  std::optional<Deliver> dead;
  const Timer t;
  while (!dead && t.seconds() < 5) {
    auto ev = c->wait(200ms);
    REQUIRE(ev.has_value());
    if (*ev)
      if (auto* d = std::get_if<Deliver>(&**ev)) dead = std::move(*d);
  }
  REQUIRE(dead);
  CHECK(dead->message.message_id == "dl-1");
  CHECK(dead->message.body == R"({"order_id":"dl-1"})");
  REQUIRE(to_entry(dead->message).has_value());
  CHECK(to_entry(dead->message)->target == "hcm-justice");
  REQUIRE(c->ack(dead->tag).has_value());
  CHECK(own.ready(own.topology.work_queue()) == 0);
}

TEST_CASE("what a consumer held unacked when its connection died goes to another instance") {
  OwnTopology own("redeliver");
  WorkPublisher publisher(broker(), own.topology, publisher_options());
  publish_all(publisher, entries(20, "r"));

  // Instance A takes 5 and dies before acking any (its TCP connection drops, as in a crash).
  auto a = std::make_unique<WorkConsumer>(broker(), own.topology, consumer_options(5, "test instance A"));
  std::set<std::string> held_by_a;
  while (held_by_a.size() < 5) {
    auto d = a->next(5s);
    REQUIRE(d.has_value());
    REQUIRE(d->has_value());
    held_by_a.insert((*d)->entry.id);
  }
  // Instance B takes the other 15.
  WorkConsumer b(broker(), own.topology, consumer_options(50, "test instance B"));
  auto first = drain(b, 15, 10s);
  CHECK(first.size() == 15);
  for (const auto& id : held_by_a) CHECK_FALSE(first.contains(id));

  a->sever_for_test();
  auto after = a->next(1s);
  CHECK_FALSE(after.has_value());  // A learns its connection is gone
  a.reset();

  // ... and B gets A's five, marked redelivered.
  std::set<std::string> redelivered;
  const Timer t;
  while (redelivered.size() < 5 && t.seconds() < 10) {
    auto d = b.next(200ms);
    REQUIRE(d.has_value());
    if (!*d) continue;
    CHECK((*d)->redelivered);
    redelivered.insert((*d)->entry.id);
    REQUIRE(b.ack(**d).has_value());
  }
  CHECK(redelivered == held_by_a);
  REQUIRE(b.flush(2s).value());
  CHECK(own.ready(own.topology.work_queue()) == 0);
}

TEST_CASE("connections the broker closes: errors, then reconnect, declare again and carry on") {
  OwnTopology own("killed");
  WorkPublisher publisher(broker(), own.topology, publisher_options());
  WorkConsumer consumer(broker(), own.topology, consumer_options(16));
  publish_all(publisher, entries(10, "before"));
  CHECK(drain(consumer, 10, 10s).size() == 10);
  CHECK(publisher.stats().connects == 1);
  CHECK(consumer.stats().connects == 1);

  rabbitmqctl("close_all_connections 'dossier-hub test: connection killed'");
  // The broker forgets the topology too (as after losing a node's data): reconnecting must declare it.
  {
    auto admin = connect();
    REQUIRE(delete_topology(*admin, own.topology).has_value());
  }

  // The consumer reports the loss once, as an error, then reconnects on its next call.
  bool reported = false;
  const Timer t;
  while (!reported && t.seconds() < 10) {
    auto d = consumer.next(200ms);
    if (!d) reported = true;
  }
  CHECK(reported);

  publish_all(publisher, entries(10, "after"));
  auto got = drain(consumer, 10, 20s);
  CHECK(got.size() == 10);
  for (const auto& [id, times] : got) CHECK(id.rfind("after-", 0) == 0);
  CHECK(publisher.stats().connects == 2);
  CHECK(publisher.stats().connection_losses == 1);
  CHECK(consumer.stats().connects == 2);
  CHECK(consumer.stats().connection_losses == 1);
  CHECK(own.ready(own.topology.work_queue()) == 0);
}

TEST_CASE("the work, delay and dead-letter queues are quorum queues with at-least-once dead-lettering") {
  OwnTopology own("quorum", {1s, 30s});
  const std::string listing = rabbitmqctl("list_queues --no-table-headers --quiet name type arguments");
  std::map<std::string, std::string> lines;
  std::size_t start = 0;
  while (start < listing.size()) {
    const auto end = listing.find('\n', start);
    const std::string line = listing.substr(start, end - start);
    if (line.rfind(own.topology.prefix, 0) == 0) lines[line.substr(0, line.find('\t'))] = line;
    start = end == std::string::npos ? listing.size() : end + 1;
  }
  INFO(listing);
  const std::vector<std::string> queues{own.topology.work_queue(), own.topology.dead_queue(),
                                        own.topology.tier_queue(1s), own.topology.tier_queue(30s)};
  for (const auto& q : queues) {
    REQUIRE(lines.contains(q));
    CHECK(lines[q].find("\tquorum") != std::string::npos);
  }
  for (const auto& q : {own.topology.work_queue(), own.topology.tier_queue(1s)})
    CHECK(lines[q].find("at-least-once") != std::string::npos);
  CHECK(lines[own.topology.tier_queue(30s)].find("30000") != std::string::npos);  // x-message-ttl

  // The broker refuses to take the work queue for a classic one.
  auto c = connect();
  auto classic = c->declare_queue(own.topology.work_queue(), {{"x-queue-type", std::string("classic")}});
  REQUIRE_FALSE(classic.has_value());
  INFO(classic.error().message);
  CHECK(classic.error().message.find("406 PRECONDITION_FAILED - inequivalent arg") != std::string::npos);
  CHECK(c->broken());  // a refused declare closes the channel
}

TEST_CASE("a broker that stops reading (memory alarm): publishes come back unconfirmed in bounded time") {
  OwnTopology own("alarm");
  PublisherOptions o = publisher_options(128);
  o.connection.operation_timeout = 2s;
  o.confirm_timeout = 2s;
  WorkPublisher publisher(broker(), own.topology, o);
  publish_all(publisher, entries(5, "warm"));

  struct Alarm {
    Alarm() { rabbitmqctl("set_vm_memory_high_watermark 0"); }
    ~Alarm() { rabbitmqctl("set_vm_memory_high_watermark 0.4"); }
  };
  auto big = entries(256, "big");
  for (auto& e : big) e.payload.assign(64 * 1024, 'x');
  {
    Alarm alarm;
    std::this_thread::sleep_for(500ms);  // the broker raises the alarm and tells its connections
    const Timer t;
    const auto r = publisher.publish(big);
    const double took = t.seconds();
    WARN("under the alarm: " << r.confirmed.size() << " confirmed, " << r.not_confirmed.size() << " not, in " << took
                             << " s: " << (r.error ? r.error->message : ""));
    CHECK(r.confirmed.empty());
    CHECK(r.not_confirmed.size() == big.size());
    REQUIRE(r.error);
    CHECK(took < 2 * (2 + 2 + 3));  // two batches, each bounded by its write and confirm deadlines
  }
  publish_all(publisher, big, 30s);  // the alarm is over: the same entries go through
  CHECK(own.ready(own.topology.work_queue()) >= big.size() + 5);
}

TEST_CASE("a broker restart: confirmed entries survive it, and both sides reconnect with backoff") {
  OwnTopology own("restart");
  WorkPublisher publisher(broker(), own.topology, publisher_options());
  publish_all(publisher, entries(100, "kept"));

  REQUIRE(run_script("restart") == 0);

  WorkConsumer consumer(broker(), own.topology, consumer_options(64));
  auto got = drain(consumer, 100, 30s);
  CHECK(got.size() == 100);  // quorum queues keep confirmed messages across a restart

  publish_all(publisher, entries(10, "new"));  // the publisher's old connection died with the broker
  CHECK(publisher.stats().connection_losses == 1);
  CHECK(publisher.stats().connects == 2);
  CHECK(drain(consumer, 10, 20s).size() == 10);
  own.await_leaders();
}

TEST_CASE("deliveries settled on other threads: the owner thread sends the decisions") {
  OwnTopology own("threads");
  WorkPublisher publisher(broker(), own.topology, publisher_options());
  publish_all(publisher, entries(200, "t"));
  WorkConsumer consumer(broker(), own.topology, consumer_options(32));

  // Four workers settle what the owner hands them, as the dispatcher's strand would.
  std::mutex m;
  std::condition_variable cv;
  std::deque<Delivery> work;
  bool done = false;
  std::atomic<int> settled{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      for (;;) {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return done || !work.empty(); });
        if (work.empty()) return;
        Delivery d = std::move(work.front());
        work.pop_front();
        lock.unlock();
        const bool dead = d.entry.id == "t-7";
        const auto r = dead ? consumer.dead_letter(d) : consumer.ack(d);
        ++(r ? settled : refused);
      }
    });
  const Timer t;
  int handed = 0;
  while (handed < 200 && t.seconds() < 20) {
    auto d = consumer.next(100ms);
    REQUIRE(d.has_value());
    if (!*d) continue;
    ++handed;
    std::lock_guard lock(m);
    work.push_back(std::move(**d));
    cv.notify_one();
  }
  {
    std::lock_guard lock(m);
    done = true;
  }
  cv.notify_all();
  for (auto& w : workers) w.join();
  REQUIRE(consumer.flush(2s).value());
  CHECK(handed == 200);
  CHECK(settled == 200);
  CHECK(refused == 0);
  CHECK(consumer.stats().acks == 199);
  CHECK(consumer.stats().dead_letters == 1);
  CHECK(own.ready(own.topology.work_queue()) == 0);
  // Dead-lettering at least once is the broker's own asynchronous hop: give it its moment.
  std::uint32_t dead = 0;
  for (const Timer w; dead == 0 && w.seconds() < 5; std::this_thread::sleep_for(50ms))
    dead = own.ready(own.topology.dead_queue());
  CHECK(dead == 1);
}
