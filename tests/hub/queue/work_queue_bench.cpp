// Work queue throughput against a live RabbitMQ (docs/performance.md, "Work queue"): persistent,
// confirmed publishes per second into the quorum work queue for batch sizes 1, 10, 100 and 256
// (one confirm wait per batch), and consume + ack per second with the default prefetch (64).
// Each figure is the median of 3 runs, each on a fresh topology. Not a test: it never asserts.
//
//   tests/servers/rabbitmq.sh start
//   build/release/tests/work_queue_bench [messages] [payload_bytes]
//   tests/servers/rabbitmq.sh stop
#include "hub/queue/work_queue.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

using namespace dh;
using namespace dh::queue;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

BrokerAddress g_broker;
int g_topologies = 0;

struct Fresh {
  Topology topology;
  Fresh() {
    topology.prefix = "dhbench." + std::to_string(::getpid()) + "." + std::to_string(++g_topologies) + ".";
    auto c = Connection::open(g_broker, {});
    if (!c || !declare_topology(**c, topology)) {
      std::fprintf(stderr, "work_queue_bench: cannot reach or prepare the broker: %s\n",
                   c ? "declare failed" : c.error().message.c_str());
      std::exit(1);
    }
  }
  ~Fresh() {
    if (auto c = Connection::open(g_broker, {})) (void)delete_topology(**c, topology);
  }
};

std::vector<store::OutboxEntry> make_entries(std::size_t n, std::size_t payload_bytes) {
  std::vector<store::OutboxEntry> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto& e = out[i];
    e.id = "bench-" + std::to_string(i);
    e.target = "postal";
    e.hub_id = "01BENCH" + std::to_string(i);
    e.url = "https://postal.example/v1/orders";
    e.content_type = "application/json";
    e.payload.assign(payload_bytes, 'x');
  }
  return out;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Messages per second, or -1 when not every entry was confirmed.
double publish_rate(const std::vector<store::OutboxEntry>& entries, std::size_t batch, PublisherStats& stats) {
  Fresh fresh;
  PublisherOptions o;
  o.batch = batch;
  WorkPublisher p(g_broker, fresh.topology, o);
  if (!p.connect()) return -1;
  const auto start = Clock::now();
  const auto r = p.publish(entries);
  const double s = seconds_since(start);
  stats = p.stats();
  return r.confirmed.size() == entries.size() ? static_cast<double>(entries.size()) / s : -1;
}

double consume_rate(const std::vector<store::OutboxEntry>& entries) {
  Fresh fresh;
  {
    PublisherOptions o;
    o.batch = 256;
    WorkPublisher p(g_broker, fresh.topology, o);
    if (p.publish(entries).confirmed.size() != entries.size()) return -1;
  }
  ConsumerOptions o;
  o.prefetch = 64;
  WorkConsumer c(g_broker, fresh.topology, o);
  std::size_t acked = 0;
  Clock::time_point start{};
  while (acked < entries.size()) {
    auto d = c.next(5s);
    if (!d || !*d) return -1;
    if (acked == 0) start = Clock::now();
    if (!c.ack(**d)) return -1;
    ++acked;
  }
  if (auto f = c.flush(5s); !f || !*f) return -1;
  return static_cast<double>(entries.size() - 1) / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t messages = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20000;
  const std::size_t payload = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1024;
  const char* url = std::getenv("DH_AMQP_URL");
  auto b = parse_amqp_url(url && *url ? url : "amqp://guest:guest@127.0.0.1:55672/");
  if (!b) {
    std::fprintf(stderr, "work_queue_bench: %s\n", b.error().message.c_str());
    return 2;
  }
  g_broker = *b;
  std::printf("work queue: %zu persistent messages of %zu bytes into a quorum queue, median of 3 runs (%s)\n", messages,
              payload, to_display(g_broker).c_str());
  std::printf("%-28s %12s %14s %14s\n", "", "msg/s", "confirm waits", "confirm frames");

  for (const std::size_t batch : {std::size_t{1}, std::size_t{10}, std::size_t{100}, std::size_t{256}}) {
    // One confirm wait per message is slow: fewer messages keep the run short, the rate is the same.
    const auto entries = make_entries(batch == 1 ? std::min<std::size_t>(messages, 2000) : messages, payload);
    std::vector<double> rates;
    PublisherStats stats;
    for (int run = 0; run < 3; ++run) rates.push_back(publish_rate(entries, batch, stats));
    const std::string label = "publish, confirm per " + std::to_string(batch);
    std::printf("%-28s %12.0f %14llu %14llu\n", label.c_str(), median(rates),
                static_cast<unsigned long long>(stats.batches), static_cast<unsigned long long>(stats.confirm_frames));
  }
  const auto entries = make_entries(messages, payload);
  std::vector<double> rates;
  for (int run = 0; run < 3; ++run) rates.push_back(consume_rate(entries));
  std::printf("%-28s %12.0f\n", "consume + ack, prefetch 64", median(rates));
  std::printf("(-1: a run did not confirm or deliver everything)\n");
  return 0;
}
