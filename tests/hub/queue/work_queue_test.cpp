// The queue layer's pure parts: broker URLs, delay tiers, and outbox entries as messages. No broker.
#include "hub/queue/work_queue.hpp"

#include "hub/queue/amqp_url.hpp"

#include <catch2/catch.hpp>

using namespace dh;
using namespace dh::queue;
using namespace std::chrono_literals;

TEST_CASE("broker URLs: amqp://user:password@host:port/vhost, percent-decoded, with defaults") {
  auto full = parse_amqp_url("amqp://hub:s%40cret@mq.internal:5673/dossier");
  REQUIRE(full.has_value());
  CHECK(full->user == "hub");
  CHECK(full->password == "s@cret");
  CHECK(full->host == "mq.internal");
  CHECK(full->port == 5673);
  CHECK(full->vhost == "dossier");

  auto bare = parse_amqp_url("amqp://127.0.0.1");
  REQUIRE(bare.has_value());
  CHECK(bare->user == "guest");
  CHECK(bare->password == "guest");
  CHECK(bare->port == 5672);
  CHECK(bare->vhost == "/");

  CHECK(parse_amqp_url("amqp://h/")->vhost == "/");
  CHECK(parse_amqp_url("amqp://h/%2F")->vhost == "/");
  CHECK(parse_amqp_url("amqp://h/%2fprod")->vhost == "/prod");
  CHECK(parse_amqp_url("amqp://u@h")->password.empty());
  auto v6 = parse_amqp_url("amqp://[::1]:55672/");
  REQUIRE(v6.has_value());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 55672);
}

TEST_CASE("broker URLs that cannot be used are refused with a reason, never with the password") {
  for (const char* bad : {"http://h/", "amqps://h/", "amqp://", "amqp://h:0/", "amqp://h:65536/", "amqp://h:x/",
                          "amqp://h:/", "amqp://h/a/b", "amqp://h/?heartbeat=5", "amqp://u:p%zz@h/", "amqp://[::1/"}) {
    INFO(bad);
    auto r = parse_amqp_url(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK_FALSE(r.error().message.empty());
  }
  CHECK(parse_amqp_url("amqps://h/").error().message.find("TLS") != std::string::npos);
  auto b = parse_amqp_url("amqp://hub:secret@mq:5672/v h");
  REQUIRE(b.has_value());
  CHECK(to_display(*b) == "amqp://hub@mq:5672/v%20h");
  CHECK(to_display(*parse_amqp_url("amqp://[::1]/")) == "amqp://guest@[::1]:5672/%2F");
}

TEST_CASE("a retry goes to the smallest delay tier at least as long as the delay asked for") {
  Topology t;
  t.prefix = "p.";
  t.retry_tiers = {1s, 5s, 30s, 2min, 10min};
  CHECK(t.tier_for(0ms) == 1s);
  CHECK(t.tier_for(1s) == 1s);
  CHECK(t.tier_for(1001ms) == 5s);
  CHECK(t.tier_for(31s) == 2min);
  CHECK(t.tier_for(1h) == 10min);  // longer than every tier: the longest
  CHECK(t.tier_queue(1s) == "p.dh.retry.1s");
  CHECK(t.tier_queue(2min) == "p.dh.retry.2m");
  CHECK(t.tier_queue(1500ms) == "p.dh.retry.1500ms");
  CHECK(t.work_queue() == "p.dh.work");
  CHECK(t.dead_queue() == "p.dh.dead-letters");
}

TEST_CASE("an outbox entry travels as a message and comes back the same") {
  store::OutboxEntry e;
  e.id = "01J0ORDER";
  e.kind = store::OutboxKind::agency_callback;
  e.target = "hcm-justice";
  e.hub_id = "01J0HUB";
  e.url = "https://agency.example/status";
  e.content_type = "application/xml";
  e.payload = "<status/>";
  e.attempts = 3;
  e.last_error = "503";
  const Message m = to_message(e);
  CHECK(m.message_id == e.id);
  CHECK(m.persistent);
  CHECK(m.body == e.payload);
  CHECK(routing_key_of(e) == "agency_callback.hcm-justice");
  auto back = to_entry(m);
  REQUIRE(back.has_value());
  CHECK(back->id == e.id);
  CHECK(back->kind == e.kind);
  CHECK(back->target == e.target);
  CHECK(back->hub_id == e.hub_id);
  CHECK(back->url == e.url);
  CHECK(back->content_type == e.content_type);
  CHECK(back->payload == e.payload);
  CHECK(back->attempts == 3);
  CHECK(back->last_error == "503");

  Message foreign = m;
  foreign.headers.erase("kind");
  CHECK_FALSE(to_entry(foreign).has_value());
  foreign.headers.emplace("kind", std::string("something_else"));
  CHECK_FALSE(to_entry(foreign).has_value());
  Message anonymous = m;
  anonymous.message_id.clear();
  CHECK_FALSE(to_entry(anonymous).has_value());
}

TEST_CASE("the configuration's queue section becomes the publisher's and the consumer's options") {
  config::Queue q;
  q.url = "amqp://hub:secret@mq:5673/dossier";
  q.prefetch = 32;
  q.publish_batch = 100;
  q.confirm_timeout = 2s;
  q.retry_tiers = {500ms, 1min};
  q.heartbeat = 30s;
  auto s = queue_settings(q, "hub-a");
  REQUIRE(s.has_value());
  CHECK(s->broker.host == "mq");
  CHECK(s->broker.vhost == "dossier");
  CHECK(s->topology.prefix.empty());
  CHECK(s->topology.retry_tiers == q.retry_tiers);
  CHECK(s->publisher.batch == 100);
  CHECK(s->publisher.confirm_timeout == 2s);
  CHECK(s->publisher.connection.heartbeat == 30s);
  CHECK(s->publisher.connection.name == "dossier-hub hub-a publisher");
  CHECK(s->consumer.prefetch == 32);
  CHECK(s->consumer.confirm_timeout == 2s);
  CHECK(s->consumer.connection.heartbeat == 30s);
  CHECK(s->consumer.connection.name == "dossier-hub hub-a consumer");
  q.url = "amqps://mq/";
  CHECK_FALSE(queue_settings(q, "hub-a").has_value());
}
