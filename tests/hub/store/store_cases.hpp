// The cases every store must pass, written once. A test file defines `Backend` and then includes
// this file: sqlite_store_test.cpp runs them on SQLite files, pg_store_pgtest.cpp on PostgreSQL
// databases. Durability, idempotency, group commit, leases, the status loop, dead letters and the
// audit chain.
//
// What a Backend provides:
//   Backend()                        a fresh, empty database of its own (removed afterwards)
//   open()                           a std::unique_ptr to the store on it (a type with stats())
//   open_impatient()                 the same, giving up quickly on a lock another holds
//   open_unreachable()               opens a store where no database can be: throws
//   Backend::Raw raw(db)             a connection of its own, behind the store's back: count(table),
//                                    scalar(sql), text(sql), error_of(sql) ("" when it ran)
//   migration_count(), schema()      the migrations its schema has, and their list
//   check_durable(raw)               the settings that make a commit durable are in force
//   check_after_abrupt_end()         after a process ended without closing its store
//   hold_writes(raw), release_writes(raw)  another writer holds the database, then lets go
//   drop_trigger(name)               SQL that removes one of the audit log's guards
//   verify_offline(), verify_offline_missing()  `dossier-hub audit verify` on it, and on none
//   kUniqueHubId, kForeignKey, kWritesHeld, kCannotOpen   what its errors say
#pragma once

#include "hub/dossier/dossier.hpp"
#include "hub/store/row_format.hpp"
#include "hub/store/schema.hpp"
#include "tests/hub/store/store_fixture.hpp"
#include "tests/support/print.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

// Included once, by a test file: the cases below read as the store's own code would.
using namespace dh;
using namespace dh::store;
using namespace dh::store::testing;

namespace dh::store::testing {

template <class T>
inline Outcome<T> settle(const std::function<void(Done<T>)>& start) {
  Pending<T> p;
  start(p.done());
  return p.get();
}

inline Outcome<void> delivered_sync(Store& s, const OutboxEntry& e, Delivered d, Timestamp now,
                                    CallbackMaker make = {}) {
  return settle<void>([&](Done<void> done) { s.delivered(e, std::move(d), now, std::move(make), std::move(done)); });
}
inline Outcome<void> retry_sync(Store& s, const OutboxEntry& e, Timestamp next, std::string error) {
  return settle<void>([&](Done<void> done) { s.retry_later(e, next, std::move(error), std::move(done)); });
}
inline Outcome<void> dead_letter_sync(Store& s, const OutboxEntry& e, std::string reason, Timestamp now) {
  return settle<void>([&](Done<void> done) { s.dead_letter(e, std::move(reason), now, std::move(done)); });
}
inline Outcome<std::size_t> redrive_sync(Store& s, std::vector<std::string> ids, Timestamp now) {
  return settle<std::size_t>(
      [&](Done<std::size_t> done) { s.redrive(std::move(ids), "admin:tester", now, std::move(done)); });
}
inline Outcome<std::size_t> discard_sync(Store& s, std::vector<std::string> ids, Timestamp now) {
  return settle<std::size_t>(
      [&](Done<std::size_t> done) { s.discard(std::move(ids), "admin:tester", now, std::move(done)); });
}

// Accepts one message whose outbox entries have these targets and due times (seconds from at()),
// and gives back the entries, in that order.
inline std::vector<OutboxEntry> accept_outbox(Store& s, const std::string& code,
                                              const std::vector<std::string>& targets, const std::vector<int>& due) {
  auto r = make_accept(code, static_cast<int>(targets.size()));
  for (std::size_t i = 0; i < r.outbox.size(); ++i) {
    r.outbox[i].target = targets[i];
    r.outbox[i].due_at = at(due[i]);
  }
  auto entries = r.outbox;
  REQUIRE(accept_sync(s, std::move(r)));
  return entries;
}

inline std::vector<std::string> ids_of(const Outcome<std::vector<OutboxEntry>>& got) {
  std::vector<std::string> out;
  for (const auto& e : got.value()) out.push_back(e.id);
  return out;
}

inline Status status_of(Store& s, const std::string& hub_id) {
  auto d = s.dossier(hub_id);
  REQUIRE(d);
  REQUIRE(d->has_value());
  return (*d)->status;
}

}  // namespace dh::store::testing

TEST_CASE("a database of schema version 1 migrates: every dossier keeps its status and item code") {
  Backend db;
  const AcceptRequest r = make_accept("STP-V1", 2);
  {
    Backend::Raw raw(db);
    REQUIRE(raw.error_of(Backend::schema()[0].sql) == "");
    REQUIRE(raw.error_of("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)") ==
            "");
    REQUIRE(raw.error_of("INSERT INTO schema_migrations (version, applied_at) VALUES (1, '2026-01-01T00:00:00Z')") ==
            "");
    REQUIRE(raw.error_of("INSERT INTO messages (id, agency_id, idempotency_key, sha256, content_type, message_type, "
                         "body, request_id, received_at, answer_json) VALUES ('" +
                         r.message.id +
                         "', 'hcm-justice', 'STP-V1', 'x', 'application/xml', 'ket-qua', '', 'req', "
                         "'2026-01-01T00:00:00.000000000Z', '{}')") == "");
    const char* statuses[] = {"in_transit", "accepted"};
    const char* item_codes[] = {"'EB000000015VN'", "NULL"};
    for (std::size_t i = 0; i < 2; ++i) {
      const auto& d = r.dossiers[i];
      REQUIRE(raw.error_of("INSERT INTO dossiers (hub_id, agency_id, dossier_code, status, dossier_json, order_id, "
                           "item_code, message_id, route_flags, updated_at) VALUES ('" +
                           *d.dossier.hub_id + "', 'hcm-justice', '" + d.dossier.dossier_code + "', '" + statuses[i] +
                           "', '" + boost::json::serialize(to_json(d.dossier)) + "', '" + *d.order_id + "', " +
                           item_codes[i] + ", '" + r.message.id + "', '[]', '2026-01-01T00:00:00.000000000Z')") == "");
    }
  }
  auto store = db.open();  // migrates
  auto& s = *store;
  {
    Backend::Raw raw(db);
    CHECK(raw.count("schema_migrations") == Backend::migration_count());
    CHECK(raw.count("dossier_state") == 2);
  }
  const auto& moving = r.dossiers[0];
  auto got = s.dossier(*moving.dossier.hub_id);
  REQUIRE(got);
  REQUIRE(got->has_value());
  CHECK((*got)->status == Status::in_transit);
  CHECK((*got)->item_code == std::optional<std::string>("EB000000015VN"));
  Dossier want = moving.dossier;
  want.status = "in_transit";  // the JSON keeps the status it was accepted with; the state is the truth
  CHECK((*got)->dossier == want);
  CHECK(status_of(s, *r.dossiers[1].dossier.hub_id) == Status::accepted);
  // The status moves on from where it was.
  StatusEvent e;
  e.event_id = "EV-V1";
  e.order_id = *moving.order_id;
  e.status = Status::delivered;
  e.occurred_at = at(60);
  e.received_at = at(61);
  auto applied = settle<EventOutcome>([&](Done<EventOutcome> done) { s.apply_event(e, {}, std::move(done)); });
  REQUIRE(applied);
  CHECK(*applied == EventOutcome::applied);
  CHECK(status_of(s, *moving.dossier.hub_id) == Status::delivered);
}

TEST_CASE("accept stores the message, its dossiers and intake orders, and reads give them back") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto req = make_accept("STP-1", 2);
  const AcceptRequest sent = req;
  auto r = accept_sync(s, std::move(req));
  REQUIRE(r);
  CHECK_FALSE(r->duplicate);
  CHECK(r->answer_json == sent.answer_json);

  for (const auto& want : sent.dossiers) {
    auto got = s.dossier(*want.dossier.hub_id);
    REQUIRE(got);
    REQUIRE(got->has_value());
    const StoredDossier& d = **got;
    CHECK(d.dossier == want.dossier);
    CHECK(d.status == Status::accepted);
    CHECK(d.order_id == want.order_id);
    CHECK_FALSE(d.item_code);
    CHECK(d.message_id == sent.message.id);
    CHECK(d.route_flags == want.route_flags);
  }
  auto by_code = s.dossiers_by_code("hcm-justice", "000.00.12.H29-250115-0042");
  REQUIRE(by_code);
  CHECK(by_code->size() == 2);
  auto other_agency = s.dossiers_by_code("hcm-police", "000.00.12.H29-250115-0042");
  REQUIRE(other_agency);
  CHECK(other_agency->empty());
  auto missing = s.dossier("01JNOSUCHDOSSIER0000000000");
  REQUIRE(missing);
  CHECK_FALSE(missing->has_value());
  auto depth = s.outbox_depth();
  REQUIRE(depth);
  CHECK(*depth == 2);
  auto h = s.history(*sent.dossiers[0].dossier.hub_id);
  REQUIRE(h);
  CHECK(h->empty());

  auto audit = s.audit_for(sent.message.id);
  REQUIRE(audit);
  REQUIRE(audit->size() == 1);
  CHECK(audit->front().action == "accept");
  CHECK(audit->front().actor == "edge");
  CHECK(audit->front().detail == "agency=hcm-justice dossiers=2 outbox=2");
  CHECK(s.healthy());

  Backend::Raw raw(db);
  db.check_durable(raw);
  CHECK(raw.count("messages") == 1);
  CHECK(raw.count("dossiers") == 2);
  CHECK(raw.count("outbox") == 2);
  CHECK(raw.count("audit") == 3);  // the message and each dossier
}

TEST_CASE("a repeated idempotency key returns the first answer and writes nothing") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto first = make_accept("STP-2");
  const std::string first_answer = first.answer_json;
  REQUIRE(accept_sync(s, std::move(first)));
  Backend::Raw raw(db);
  const auto audit_before = raw.count("audit");

  auto again = make_accept("STP-2");  // new ids, a different answer: what a retry would build
  const std::string again_hub_id = *again.dossiers.front().dossier.hub_id;
  auto r = accept_sync(s, std::move(again));
  REQUIRE(r);
  CHECK(r->duplicate);
  CHECK(r->answer_json == first_answer);
  CHECK(raw.count("messages") == 1);
  CHECK(raw.count("dossiers") == 1);
  CHECK(raw.count("outbox") == 1);
  CHECK(raw.count("audit") == audit_before);
  auto none = s.dossier(again_hub_id);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());

  SECTION("the key is per agency") {
    auto other = accept_sync(s, make_accept("STP-2", 1, "hcm-police"));
    REQUIRE(other);
    CHECK_FALSE(other->duplicate);
    CHECK(raw.count("messages") == 2);
  }
}

TEST_CASE("concurrent accepts from several threads are all committed, in fewer transactions than requests") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  constexpr int kThreads = 8, kEach = 50;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, failed{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Pending<AcceptResult>> pending(kEach);
      for (int i = 0; i < kEach; ++i)
        s.accept(make_accept("T" + std::to_string(t) + "-" + std::to_string(i)), pending[i].done());
      for (auto& p : pending) {
        auto r = p.get();
        (r && !r->duplicate ? ok : failed)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == kThreads * kEach);
  CHECK(failed == 0);
  Backend::Raw raw(db);
  CHECK(raw.count("messages") == kThreads * kEach);
  CHECK(raw.count("outbox") == kThreads * kEach);
  const SqliteStats st = s.stats();
  CHECK(st.operations == static_cast<std::uint64_t>(kThreads * kEach));
  CHECK(st.transactions < static_cast<std::uint64_t>(kThreads * kEach));
  CHECK(st.failed_transactions == 0);
  auto v = s.verify_audit();
  REQUIRE(v);
  CHECK(v->ok);
  CHECK(v->entries == 2 * kThreads * kEach);
}

TEST_CASE("two accepts with one key in the same batch: the second is a duplicate of the first") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  Pending<AcceptResult> a, b;
  auto first = make_accept("STP-3");
  const std::string first_answer = first.answer_json;
  {
    WriterGate gate(s);
    s.accept(std::move(first), a.done());
    s.accept(make_accept("STP-3"), b.done());
    const auto before = s.stats().transactions;
    REQUIRE(gate.release());
    auto ra = a.get();
    auto rb = b.get();
    REQUIRE(ra);
    REQUIRE(rb);
    CHECK_FALSE(ra->duplicate);
    CHECK(rb->duplicate);
    CHECK(rb->answer_json == first_answer);
    CHECK(s.stats().transactions == before + 2);  // the gate's batch, then both accepts in one
  }
  Backend::Raw raw(db);
  CHECK(raw.scalar("SELECT count(*) FROM messages WHERE idempotency_key = 'STP-3'") == 1);
}

TEST_CASE("one failing operation in a batch rolls back alone and gets its own error") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto existing = make_accept("STP-4");
  const std::string taken_hub_id = *existing.dossiers.front().dossier.hub_id;
  REQUIRE(accept_sync(s, std::move(existing)));

  auto bad = make_accept("STP-5");
  bad.dossiers.front().dossier.hub_id = taken_hub_id;  // its message row goes in first, then this fails
  Pending<AcceptResult> a, b, c;
  std::uint64_t before = 0;
  {
    WriterGate gate(s);
    s.accept(make_accept("STP-6"), a.done());
    s.accept(std::move(bad), b.done());
    s.accept(make_accept("STP-7"), c.done());
    before = s.stats().transactions;
    REQUIRE(gate.release());
    REQUIRE(a.get());
    auto rb = b.get();
    REQUIRE_FALSE(rb);
    CHECK_THAT(rb.error().message, Catch::Contains(Backend::kUniqueHubId));
    REQUIRE(c.get());
  }
  CHECK(s.stats().transactions == before + 2);
  CHECK(s.stats().failed_transactions == 0);
  // The batch ran first without savepoints, failed at STP-5, and ran again with one per operation.
  CHECK(s.stats().second_passes == 1);
  CHECK(s.healthy());
  Backend::Raw raw(db);
  CHECK(raw.scalar("SELECT count(*) FROM messages WHERE idempotency_key = 'STP-5'") == 0);
  CHECK(raw.count("messages") == 4);  // STP-4, the gate's, STP-6, STP-7
  auto v = s.verify_audit();
  REQUIRE(v);
  CHECK(v->ok);

  // Nothing of it stayed: the same key goes through when it is right.
  auto retry = accept_sync(s, make_accept("STP-5"));
  REQUIRE(retry);
  CHECK_FALSE(retry->duplicate);
}

TEST_CASE("everything acknowledged is there after closing and opening again, and migrations run once") {
  Backend db;
  std::vector<std::string> hub_ids;
  std::string applied_at;
  {
    auto store = db.open();
    auto& s = *store;
    for (int i = 0; i < 20; ++i) {
      auto r = make_accept("STP-D" + std::to_string(i));
      hub_ids.push_back(*r.dossiers.front().dossier.hub_id);
      REQUIRE(accept_sync(s, std::move(r)));
    }
    Backend::Raw raw(db);
    CHECK(raw.count("schema_migrations") == db.migration_count());
    applied_at = raw.text("SELECT applied_at FROM schema_migrations WHERE version = 1");
  }
  auto store = db.open();
  auto& s = *store;
  for (const auto& id : hub_ids) {
    auto d = s.dossier(id);
    REQUIRE(d);
    CHECK(d->has_value());
  }
  auto dup = accept_sync(s, make_accept("STP-D0"));
  REQUIRE(dup);
  CHECK(dup->duplicate);
  Backend::Raw raw(db);
  CHECK(raw.count("schema_migrations") == db.migration_count());
  CHECK(raw.text("SELECT applied_at FROM schema_migrations WHERE version = 1") == applied_at);
  auto v = s.verify_audit();
  REQUIRE(v);
  CHECK(v->ok);
  CHECK(v->entries == 40);
}

TEST_CASE("acknowledged accepts survive a process that ends without closing the store") {
  Backend db;
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // the child: accept, report each acknowledgement, end abruptly
    close(fds[0]);
    auto* s = db.open().release();  // never deleted: no close, no checkpoint
    for (int i = 0; i < 25; ++i) {
      auto r = accept_sync(*s, make_accept("CRASH-" + std::to_string(i)));
      if (!r || r->duplicate) _exit(3);
      const char acked = 'a';
      if (write(fds[1], &acked, 1) != 1) _exit(4);
    }
    _exit(0);
  }
  close(fds[1]);
  int acknowledged = 0;
  char buf[64];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) acknowledged += static_cast<int>(n);
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(acknowledged == 25);
  db.check_after_abrupt_end();

  auto store = db.open();
  auto& s = *store;
  Backend::Raw raw(db);
  CHECK(raw.count("messages") == acknowledged);
  CHECK(raw.count("outbox") == acknowledged);
  for (int i = 0; i < acknowledged; ++i) {
    auto r = accept_sync(s, make_accept("CRASH-" + std::to_string(i)));
    REQUIRE(r);
    CHECK(r->duplicate);
  }
  auto v = s.verify_audit();
  REQUIRE(v);
  CHECK(v->ok);
}

TEST_CASE("a file migrated by a newer hub is refused at open") {
  Backend db;
  (void)db.open();
  {
    Backend::Raw raw(db);
    REQUIRE(raw.error_of("INSERT INTO schema_migrations (version, applied_at) VALUES (999, '2030-01-01T00:00:00Z')")
                .empty());
  }
  CHECK_THROWS_WITH(db.open(), Catch::Contains("newer than this hub knows"));
  CHECK_THROWS_WITH(db.open_unreachable(), Catch::Contains(Backend::kCannotOpen));
}

TEST_CASE("claim leases due entries: a second claim gets nothing until the lease expires") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto r = make_accept("STP-C", 3);
  r.outbox[0].due_at = at(-10);
  r.outbox[1].due_at = at(-5);
  r.outbox[2].due_at = at(100);  // not due yet
  const auto entries = r.outbox;
  REQUIRE(accept_sync(s, std::move(r)));

  auto first = s.claim(at(), std::chrono::seconds(30), 10, {});
  REQUIRE(first);
  REQUIRE(first->size() == 2);
  CHECK((*first)[0].id == entries[0].id);  // oldest due first
  CHECK((*first)[1].id == entries[1].id);
  CHECK((*first)[0].payload == entries[0].payload);
  CHECK((*first)[0].kind == OutboxKind::postal_order);
  CHECK(same_instant((*first)[0].due_at, entries[0].due_at));

  auto second = s.claim(at(10), std::chrono::seconds(30), 10, {});
  REQUIRE(second);
  CHECK(second->empty());

  auto expired = s.claim(at(30), std::chrono::seconds(30), 1, {});  // the lease ends at at(30)
  REQUIRE(expired);
  REQUIRE(expired->size() == 1);
  CHECK(expired->front().id == entries[0].id);

  SECTION("open circuit breakers: their targets are left alone") {
    auto skipped = s.claim(at(200), std::chrono::seconds(30), 10, {"vnpost", "other"});
    REQUIRE(skipped);
    CHECK(skipped->empty());
    auto all = s.claim(at(200), std::chrono::seconds(30), 10, {"other"});
    REQUIRE(all);
    CHECK(all->size() == 3);
  }
}

TEST_CASE("claim takes the entries due first over every target, and a skipped backlog holds back no other") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  // Six entries for the postal core due first (a backlog behind an open breaker), then three
  // callbacks for two agencies, interleaved in time.
  const auto entries =
      accept_outbox(s, "STP-T", {"vnpost", "vnpost", "vnpost", "vnpost", "vnpost", "vnpost", "hcm-a", "hcm-b", "hcm-a"},
                    {-90, -89, -88, -87, -86, -85, -30, -40, -20});

  // The limit cuts across targets by due time: the postal core's four oldest.
  CHECK(ids_of(s.claim(at(), std::chrono::seconds(30), 4, {})) ==
        std::vector<std::string>{entries[0].id, entries[1].id, entries[2].id, entries[3].id});
  // Then what is left, oldest first, whatever its target.
  CHECK(ids_of(s.claim(at(), std::chrono::seconds(30), 3, {})) ==
        std::vector<std::string>{entries[4].id, entries[5].id, entries[7].id});
  // Skipping one agency leaves its entry for later; the other's comes.
  CHECK(ids_of(s.claim(at(), std::chrono::seconds(30), 10, {"hcm-a"})).empty());
  CHECK(ids_of(s.claim(at(), std::chrono::seconds(30), 10, {"hcm-b"})) ==
        std::vector<std::string>{entries[6].id, entries[8].id});
  // After the leases end, with the postal core skipped, only the agencies' entries come back.
  CHECK(ids_of(s.claim(at(40), std::chrono::seconds(30), 10, {"vnpost"})) ==
        std::vector<std::string>{entries[7].id, entries[6].id, entries[8].id});
}

TEST_CASE("claim over more targets than its limit still takes the oldest entries, several from one target") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  // One agency with a backlog, three others with one entry each, all later than the backlog.
  const auto entries =
      accept_outbox(s, "STP-M", {"hcm-a", "hcm-a", "hcm-a", "hcm-b", "hcm-c", "hcm-d"}, {-90, -89, -88, -80, -70, -60});
  // Not one per target: the first agency's three are older than every other entry.
  CHECK(ids_of(s.claim(at(), std::chrono::seconds(30), 2, {})) ==
        std::vector<std::string>{entries[0].id, entries[1].id});
  CHECK(ids_of(s.claim(at(), std::chrono::seconds(30), 3, {})) ==
        std::vector<std::string>{entries[2].id, entries[3].id, entries[4].id});
  CHECK(ids_of(s.claim(at(), std::chrono::seconds(30), 3, {})) == std::vector<std::string>{entries[5].id});
}

TEST_CASE("retry_later counts the attempt, keeps the error and makes the entry due later") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto r = make_accept("STP-R");
  const OutboxEntry entry = r.outbox.front();
  REQUIRE(accept_sync(s, std::move(r)));
  auto claimed = s.claim(at(), std::chrono::seconds(30), 10, {});
  REQUIRE(claimed);
  REQUIRE(claimed->size() == 1);

  REQUIRE(retry_sync(s, claimed->front(), at(60), "HTTP 503"));
  auto early = s.claim(at(59), std::chrono::seconds(30), 10, {});
  REQUIRE(early);
  CHECK(early->empty());
  auto due = s.claim(at(60), std::chrono::seconds(30), 10, {});  // the lease was released too
  REQUIRE(due);
  REQUIRE(due->size() == 1);
  CHECK(due->front().attempts == 1);
  CHECK(due->front().last_error == "HTTP 503");
  REQUIRE(retry_sync(s, due->front(), at(120), "connection refused"));
  auto audit = s.audit_for(entry.id);
  REQUIRE(audit);
  REQUIRE(audit->size() == 2);
  CHECK(audit->back().action == "retry");
  CHECK_THAT(audit->back().detail, Catch::StartsWith("attempts=2 "));
}

TEST_CASE("extend_leases keeps claimed entries leased longer, and leaves free and retried ones alone") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto r = make_accept("STP-X", 3);
  for (auto& e : r.outbox) e.due_at = at(-10);
  std::vector<std::string> all;
  for (const auto& e : r.outbox) all.push_back(e.id);
  REQUIRE(accept_sync(s, std::move(r)));
  auto claimed = s.claim(at(), std::chrono::seconds(30), 2, {});  // two of the three, until at(30)
  REQUIRE(claimed);
  REQUIRE(claimed->size() == 2);
  const std::string kept = (*claimed)[0].id, retried = (*claimed)[1].id;
  REQUIRE(retry_sync(s, (*claimed)[1], at(40), "HTTP 503"));  // retried meanwhile: no lease, due at(40)
  Pending<void> extended;
  auto ids = all;
  ids.push_back("no-such-entry");
  s.extend_leases(ids, at(900), extended.done());
  REQUIRE(extended.get());
  auto later = s.claim(at(100), std::chrono::seconds(30), 10, {});
  REQUIRE(later);
  // The one still leased is leased until at(900) now; the retried one and the never-claimed one
  // were not leased, and are not.
  REQUIRE(later->size() == 2);
  for (const auto& e : *later) CHECK(e.id != kept);
  CHECK(std::any_of(later->begin(), later->end(), [&](const OutboxEntry& e) { return e.id == retried; }));
  auto before_end = s.claim(at(899), std::chrono::seconds(30), 10, {});
  REQUIRE(before_end);
  for (const auto& e : *before_end) CHECK(e.id != kept);
  auto at_end = s.claim(at(900), std::chrono::seconds(30), 10, {});
  REQUIRE(at_end);
  CHECK(std::any_of(at_end->begin(), at_end->end(), [&](const OutboxEntry& e) { return e.id == kept; }));
}

TEST_CASE("outbox_entry reads one entry as it is now, and nothing once it left the outbox") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto r = make_accept("STP-E", 2);
  const OutboxEntry sent = r.outbox.front();
  REQUIRE(accept_sync(s, std::move(r)));

  auto read = s.outbox_entry(sent.id);
  REQUIRE(read);
  REQUIRE(read->has_value());
  const OutboxEntry& e = **read;
  CHECK(e.id == sent.id);
  CHECK(e.kind == OutboxKind::postal_order);
  CHECK(e.target == sent.target);
  CHECK(e.hub_id == sent.hub_id);
  CHECK(e.url == sent.url);
  CHECK(e.content_type == sent.content_type);
  CHECK(e.payload == sent.payload);
  CHECK(same_instant(e.due_at, sent.due_at));
  CHECK(e.attempts == 0);

  // A failed attempt shows: the reply of a postal core on a queue is recorded against it.
  REQUIRE(retry_sync(s, e, at(60), "reply 503"));
  auto retried = s.outbox_entry(sent.id);
  REQUIRE(retried);
  REQUIRE(retried->has_value());
  CHECK((*retried)->attempts == 1);
  CHECK((*retried)->last_error == "reply 503");

  // Delivered (or given up): gone, which is an answer, not an error.
  REQUIRE(delivered_sync(s, e, Delivered{"EB000000014VN"}, at(5)));
  auto gone = s.outbox_entry(sent.id);
  REQUIRE(gone);
  CHECK_FALSE(gone->has_value());
  auto never = s.outbox_entry("no-such-entry");
  REQUIRE(never);
  CHECK_FALSE(never->has_value());
}

TEST_CASE("delivered removes the entry, and a postal order's dossier becomes ordered with its item code") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto r = make_accept("STP-O");
  const OutboxEntry entry = r.outbox.front();
  const std::string hub_id = entry.hub_id;
  REQUIRE(accept_sync(s, std::move(r)));

  // The agency subscribed to `ordered`: its callback is rendered from the dossier as it was.
  int made = 0;  // the maker runs on the writer's thread while this one waits: no assertions there
  std::optional<Status> seen_before, seen_status;
  std::optional<std::string> seen_item;
  auto maker = [&](const StoredDossier& before, const StatusEvent& e) {
    ++made;
    seen_before = before.status;
    seen_status = e.status;
    seen_item = e.item_code;
    OutboxEntry cb;
    cb.id = "CB-ORDERED";
    cb.kind = OutboxKind::agency_callback;
    cb.target = "hcm-justice";
    cb.hub_id = e.hub_id;
    cb.url = "https://agency.example/callback";
    cb.content_type = "application/xml";
    cb.payload = "<TrangThai>" + std::string(to_string(e.status)) + "</TrangThai>";
    cb.due_at = e.received_at;
    return std::vector<OutboxEntry>{cb};
  };
  REQUIRE(delivered_sync(s, entry, Delivered{"EB123456789VN"}, at(5), maker));
  auto d = s.dossier(hub_id);
  REQUIRE(d);
  REQUIRE(d->has_value());
  CHECK((*d)->status == Status::ordered);
  CHECK((*d)->dossier.status == "ordered");
  CHECK((*d)->item_code == "EB123456789VN");
  CHECK(made == 1);
  CHECK(seen_before == Status::accepted);
  CHECK(seen_status == Status::ordered);
  CHECK(seen_item == "EB123456789VN");
  Backend::Raw raw(db);
  CHECK(raw.scalar("SELECT count(*) FROM outbox WHERE id = 'CB-ORDERED' AND kind = 'agency_callback'") == 1);
  CHECK(raw.count("outbox") == 1);  // the order is gone, the callback waits

  // The history shows the move, as the hub's own event.
  auto h = s.history(hub_id).value();
  REQUIRE(h.size() == 1);
  CHECK(h[0].event_id == "hub:ordered:" + entry.id);
  CHECK(h[0].status == Status::ordered);
  CHECK(h[0].applied);
  CHECK(h[0].order_id == entry.id);
  CHECK(h[0].item_code == "EB123456789VN");
  CHECK(same_instant(h[0].occurred_at, at(5)));

  auto trail = s.audit_for(hub_id);
  REQUIRE(trail);
  REQUIRE(trail->size() == 2);
  CHECK(trail->back().action == "status");
  CHECK(trail->back().detail == "from=accepted to=ordered cause=delivered:" + entry.id);

  // Delivered again (a second dispatcher after a lease expired): nothing changes, no error.
  const auto audit_rows = raw.count("audit");
  REQUIRE(delivered_sync(s, entry, Delivered{"EB000000000VN"}, at(6), maker));
  CHECK(raw.count("audit") == audit_rows);
  CHECK(raw.count("status_events") == 1);
  CHECK(made == 1);
  CHECK(s.dossier(hub_id).value()->item_code == "EB123456789VN");
}

TEST_CASE("delivered: the ordered move, its event and its callbacks are one write") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto r = make_accept("STP-OB");
  const OutboxEntry entry = r.outbox.front();
  const std::string hub_id = entry.hub_id;
  REQUIRE(accept_sync(s, std::move(r)));
  auto broken = [](const StoredDossier&, const StatusEvent& e) {
    OutboxEntry cb;
    cb.id = "CB-" + e.event_id;
    cb.kind = OutboxKind::agency_callback;
    cb.hub_id = "01JNOTADOSSIER000000000000";  // no such dossier: the foreign key refuses it
    cb.due_at = e.received_at;
    return std::vector<OutboxEntry>{cb};
  };
  auto failed = delivered_sync(s, entry, Delivered{"EB123456789VN"}, at(5), broken);
  REQUIRE_FALSE(failed);
  CHECK_THAT(failed.error().message, Catch::Contains(Backend::kForeignKey));
  Backend::Raw raw(db);
  CHECK(raw.count("status_events") == 0);
  CHECK(raw.count("outbox") == 1);  // the order is still there, to be delivered again
  CHECK(status_of(s, hub_id) == Status::accepted);
  REQUIRE(delivered_sync(s, entry, Delivered{"EB123456789VN"}, at(6)));
  CHECK(status_of(s, hub_id) == Status::ordered);
  CHECK(raw.count("status_events") == 1);
}

TEST_CASE("dead letters: the dossier is dead_lettered, redrive puts the order back, discard drops it") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto r = make_accept("STP-X");
  const OutboxEntry entry = r.outbox.front();
  const std::string hub_id = entry.hub_id;
  REQUIRE(accept_sync(s, std::move(r)));
  REQUIRE(retry_sync(s, entry, at(1), "HTTP 500"));

  REQUIRE(dead_letter_sync(s, entry, "HTTP 422 from the postal core", at(10)));
  CHECK(status_of(s, hub_id) == Status::dead_lettered);
  CHECK(s.outbox_depth().value() == 0);
  CHECK(s.dead_letter_count().value() == 1);
  auto listed = s.dead_letters(10, 0);
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  const DeadLetter& dl = listed->front();
  CHECK(dl.id == entry.id);
  CHECK(dl.entry.payload == entry.payload);
  CHECK(dl.entry.attempts == 1);
  CHECK(dl.entry.last_error == "HTTP 500");
  CHECK(dl.reason == "HTTP 422 from the postal core");
  CHECK(same_instant(dl.dead_at, at(10)));
  auto by_id = s.dead_letter_by_id(entry.id);
  REQUIRE(by_id);
  CHECK(by_id->has_value());
  CHECK_FALSE(s.dead_letter_by_id("nothing").value().has_value());

  // Events cannot take a dossier out of dead_lettered: only an operator's redrive does.
  CHECK(apply_sync(s, event("E-late", entry.id, Status::picked_up)).value() == EventOutcome::recorded);
  CHECK(status_of(s, hub_id) == Status::dead_lettered);

  auto n = redrive_sync(s, {entry.id, "no-such-letter"}, at(20));
  REQUIRE(n);
  CHECK(*n == 1);
  CHECK(status_of(s, hub_id) == Status::accepted);
  CHECK(s.dead_letter_count().value() == 0);
  auto back = s.claim(at(20), std::chrono::seconds(30), 10, {});
  REQUIRE(back);
  REQUIRE(back->size() == 1);
  CHECK(back->front().attempts == 0);
  CHECK(back->front().last_error.empty());
  CHECK(same_instant(back->front().due_at, at(20)));
  auto redriven = s.audit_for(entry.id);
  REQUIRE(redriven);
  CHECK(redriven->back().action == "redrive");
  CHECK(redriven->back().actor == "admin:tester");

  REQUIRE(dead_letter_sync(s, back->front(), "HTTP 400", at(30)));
  auto gone = discard_sync(s, {entry.id, entry.id}, at(40));
  REQUIRE(gone);
  CHECK(*gone == 1);
  CHECK(s.dead_letter_count().value() == 0);
  CHECK(s.outbox_depth().value() == 0);
  CHECK(status_of(s, hub_id) == Status::dead_lettered);  // the operator gave up on it
  CHECK(s.audit_for(entry.id).value().back().action == "discard");
}

TEST_CASE("apply_event: moves, callbacks committed with it, repeats and late events") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto r = make_accept("STP-E");
  const std::string order = *r.dossiers.front().order_id;
  const std::string hub_id = *r.dossiers.front().dossier.hub_id;
  REQUIRE(accept_sync(s, std::move(r)));
  Backend::Raw raw(db);

  int made = 0;  // the maker runs on the writer's thread while this one waits: no assertions there
  bool saw_before = true;
  auto maker = [&](const StoredDossier& before, const StatusEvent& e) {
    ++made;
    saw_before = saw_before && before.status != e.status && before.dossier.hub_id == e.hub_id;
    OutboxEntry cb;
    cb.id = "CB-" + e.event_id;
    cb.kind = OutboxKind::agency_callback;
    cb.target = "hcm-justice";
    cb.hub_id = e.hub_id;
    cb.url = "https://agency.example/callback";
    cb.content_type = "application/xml";
    cb.payload = "<TrangThai>" + std::string(to_string(e.status)) + "</TrangThai>";
    cb.due_at = e.received_at;
    return std::vector<OutboxEntry>{cb};
  };

  auto e1 = event("E1", order, Status::in_transit, 100);
  e1.item_code = "EB111111111VN";
  CHECK(apply_sync(s, e1, maker).value() == EventOutcome::applied);
  CHECK(made == 1);
  CHECK(saw_before);
  auto d = s.dossier(hub_id).value();
  CHECK(d->status == Status::in_transit);
  CHECK(d->item_code == "EB111111111VN");
  CHECK(raw.scalar("SELECT count(*) FROM outbox WHERE id = 'CB-E1' AND kind = 'agency_callback'") == 1);

  SECTION("a repeated event_id changes nothing") {
    const auto events = raw.count("status_events"), audit = raw.count("audit");
    auto again = e1;
    again.status = Status::delivered;
    CHECK(apply_sync(s, again, maker).value() == EventOutcome::duplicate);
    CHECK(made == 1);
    CHECK(raw.count("status_events") == events);
    CHECK(raw.count("audit") == audit);
    CHECK(status_of(s, hub_id) == Status::in_transit);
  }
  SECTION("a late event is recorded in the history but does not move the status") {
    CHECK(apply_sync(s, event("E0", order, Status::picked_up, 50), maker).value() == EventOutcome::recorded);
    CHECK(made == 1);
    CHECK(status_of(s, hub_id) == Status::in_transit);
    auto h = s.history(hub_id).value();
    REQUIRE(h.size() == 2);
    CHECK(h[0].event_id == "E0");  // in the order they happened
    CHECK_FALSE(h[0].applied);
    CHECK(h[1].event_id == "E1");
    CHECK(h[1].applied);
    CHECK(h[1].hub_id == hub_id);
    CHECK(h[1].item_code == "EB111111111VN");
    CHECK(same_instant(h[1].occurred_at, at(100)));
    CHECK(same_instant(h[1].received_at, at(101)));
  }
  SECTION("an unknown order writes nothing") {
    const auto events = raw.count("status_events"), audit = raw.count("audit");
    CHECK(apply_sync(s, event("E9", "01JUNKNOWNORDER00000000000", Status::delivered), maker).value() ==
          EventOutcome::unknown_order);
    auto contradicting = event("E8", order, Status::delivered);
    contradicting.hub_id = "01JSOMEOTHERDOSSIER0000000";
    CHECK(apply_sync(s, contradicting, maker).value() == EventOutcome::unknown_order);
    CHECK(raw.count("status_events") == events);
    CHECK(raw.count("audit") == audit);
    CHECK(made == 1);
  }
  SECTION("the event, the move and the callbacks are one: a callback that cannot be stored undoes all") {
    const auto events = raw.count("status_events"), outbox = raw.count("outbox");
    auto broken = [](const StoredDossier&, const StatusEvent& e) {
      OutboxEntry cb;
      cb.id = "CB-" + e.event_id;
      cb.kind = OutboxKind::agency_callback;
      cb.hub_id = "01JNOTADOSSIER000000000000";  // no such dossier: the foreign key refuses it
      cb.due_at = e.received_at;
      return std::vector<OutboxEntry>{cb};
    };
    auto r2 = apply_sync(s, event("E2", order, Status::delivered, 200), broken);
    REQUIRE_FALSE(r2);
    CHECK_THAT(r2.error().message, Catch::Contains(Backend::kForeignKey));
    CHECK(raw.count("status_events") == events);
    CHECK(raw.count("outbox") == outbox);
    CHECK(status_of(s, hub_id) == Status::in_transit);
    // The same event, sent again, is not a duplicate: nothing of it was kept.
    CHECK(apply_sync(s, event("E2", order, Status::delivered, 200), maker).value() == EventOutcome::applied);
    CHECK(status_of(s, hub_id) == Status::delivered);
  }
  SECTION("dead_lettered is not a postal status") {
    CHECK_FALSE(apply_sync(s, event("E3", order, Status::dead_lettered), maker));
  }
}

TEST_CASE("rejections are kept with the problem given") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  for (int i = 0; i < 3; ++i) {
    Rejection r;
    r.id = "REJ-" + std::to_string(i);
    r.agency_id = i == 0 ? "" : "hcm-justice";
    r.body = std::string("\0<bad", 5);
    r.sha256 = sha256_hex(r.body);
    r.problem_type = "urn:dossier-hub:problem:invalid-message";
    r.problem_json = R"({"type":"urn:dossier-hub:problem:invalid-message"})";
    r.received_at = at(i);
    REQUIRE(settle<void>([&](Done<void> done) { s.record_rejection(r, std::move(done)); }));
  }
  auto page = s.rejections(2, 0);
  REQUIRE(page);
  REQUIRE(page->size() == 2);
  CHECK((*page)[0].id == "REJ-2");  // newest first
  CHECK((*page)[1].id == "REJ-1");
  CHECK((*page)[0].body == std::string("\0<bad", 5));
  auto rest = s.rejections(2, 2);
  REQUIRE(rest);
  REQUIRE(rest->size() == 1);
  CHECK(rest->front().agency_id.empty());
  CHECK(s.audit_for("REJ-0").value().front().detail == "agency=- type=urn:dossier-hub:problem:invalid-message");
}

TEST_CASE("the audit log is append-only and hash-chained: a changed entry is found at its seq") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto r = make_accept("STP-A", 2);
  const OutboxEntry entry = r.outbox.front();
  REQUIRE(accept_sync(s, std::move(r)));
  REQUIRE(delivered_sync(s, entry, Delivered{"EB1VN"}, at(1)));

  auto v = s.verify_audit();
  REQUIRE(v);
  CHECK(v->ok);
  CHECK(v->entries == 5);  // accept, 2 dossiers, delivered, status
  CHECK_FALSE(v->first_bad_seq);
  auto first = s.audit_for(s.dossier(entry.hub_id).value()->message_id).value().front();
  CHECK(first.seq == 1);
  CHECK(first.prev_hash == std::string(64, '0'));
  CHECK(first.hash ==
        audit_hash(first.prev_hash, 1, to_db_time(first.at), first.actor, first.action, first.subject, first.detail));

  Backend::Raw raw(db);
  CHECK_THAT(raw.error_of("UPDATE audit SET detail = 'nothing happened' WHERE seq = 3"),
             Catch::Contains("the audit log is append-only"));
  CHECK_THAT(raw.error_of("DELETE FROM audit WHERE seq = 3"), Catch::Contains("the audit log is append-only"));
  SECTION("a changed detail") {
    REQUIRE(raw.error_of(db.drop_trigger("audit_no_update")).empty());
    REQUIRE(raw.error_of("UPDATE audit SET detail = 'nothing happened' WHERE seq = 3").empty());
    auto broken = s.verify_audit();
    REQUIRE(broken);
    CHECK_FALSE(broken->ok);
    CHECK(broken->first_bad_seq == 3);
    CHECK(broken->entries == 5);
  }
  SECTION("a removed entry") {
    REQUIRE(raw.error_of(db.drop_trigger("audit_no_delete")).empty());
    REQUIRE(raw.error_of("DELETE FROM audit WHERE seq = 2").empty());
    auto broken = s.verify_audit();
    REQUIRE(broken);
    CHECK_FALSE(broken->ok);
    CHECK(broken->first_bad_seq == 3);
  }
  SECTION("the stored chain, checked from outside by an operator (read-only)") {
    auto file = db.verify_offline();
    REQUIRE(file);
    CHECK(file->ok);
    CHECK(file->entries == 5);
    CHECK_FALSE(db.verify_offline_missing());
  }
}

TEST_CASE("healthy() is false while writes fail and true again once one succeeds") {
  Backend db;
  auto store = db.open_impatient();
  auto& s = *store;
  REQUIRE(accept_sync(s, make_accept("STP-H0")));
  CHECK(s.healthy());
  {
    Backend::Raw locker(db);
    db.hold_writes(locker);  // another writer holds the database
    auto r = accept_sync(s, make_accept("STP-H1"));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains(Backend::kWritesHeld));
    CHECK_FALSE(s.healthy());
    CHECK(s.stats().failed_transactions >= 1);
    db.release_writes(locker);
  }
  SECTION("a write that succeeds") {
    REQUIRE(accept_sync(s, make_accept("STP-H1")));
    CHECK(s.healthy());
  }
  SECTION("the store's own probe") {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    bool healthy = false;
    while (!(healthy = s.healthy()) && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    CHECK(healthy);
  }
}

TEST_CASE("reads from several threads while the writer writes") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto r = make_accept("STP-READ");
  const std::string hub_id = *r.dossiers.front().dossier.hub_id;
  REQUIRE(accept_sync(s, std::move(r)));
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        auto d = s.dossier(hub_id);
        auto n = s.outbox_depth();
        auto v = s.dossiers_by_code("hcm-justice", "000.00.12.H29-250115-0042");
        if (!d || !d->has_value() || !n || !v) ++errors;
        ++reads;
      }
    });
  }
  for (int i = 0; i < 100; ++i) REQUIRE(accept_sync(s, make_accept("STP-READ-" + std::to_string(i))));
  stop = true;
  for (auto& t : readers) t.join();
  CHECK(errors == 0);
  CHECK(reads > 0);
  CHECK(s.outbox_depth().value() == 101);
}
