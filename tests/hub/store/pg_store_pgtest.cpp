// The shared store against a live PostgreSQL server (tests/servers/postgres.sh, DH_PG_URL), each
// test in a database of its own: every case of store_cases.hpp, then what only shared mode has to
// show: two instances on one database, connections the server ends, deadlines, concurrent
// migrations, and `dossier-hub audit verify` on a database.
#include "hub/store/pg_store.hpp"
#include "hub/store/schema.hpp"
#include "tests/hub/store/pg_fixture.hpp"
#include "tests/hub/store/store_fixture.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <csignal>
#include <map>
#include <netinet/in.h>
#include <set>
#include <sys/socket.h>

namespace {

class PgBackend {
 public:
  static constexpr const char* kUniqueHubId = R"(duplicate key value violates unique constraint "dossiers_pkey")";
  static constexpr const char* kForeignKey = "violates foreign key constraint";
  static constexpr const char* kWritesHeld = "canceling statement due to statement timeout";
  static constexpr const char* kCannotOpen = "cannot connect to PostgreSQL";

  class Raw : public dh::store::testing::PgRaw {
   public:
    explicit Raw(const PgBackend& b) : PgRaw(b.db_.url()) {}
  };

  [[nodiscard]] std::unique_ptr<dh::store::PgStore> open() const {
    return std::make_unique<dh::store::PgStore>(db_.options());
  }
  [[nodiscard]] std::unique_ptr<dh::store::PgStore> open_impatient() const {
    auto o = db_.options();
    o.statement_timeout = std::chrono::milliseconds(300);
    return std::make_unique<dh::store::PgStore>(o);
  }
  void open_unreachable() const {
    auto o = db_.options();
    o.url = "postgresql://postgres@127.0.0.1:1/" + db_.name();  // nothing listens on port 1
    dh::store::PgStore s(o);
  }
  [[nodiscard]] static std::int64_t migration_count() {
    return static_cast<std::int64_t>(dh::store::pg_migrations().size());
  }
  [[nodiscard]] static std::span<const dh::store::Migration> schema() { return dh::store::pg_migrations(); }
  // A commit is answered after its WAL record is flushed to disk.
  static void check_durable(Raw& raw) {
    CHECK(raw.text("SHOW synchronous_commit") == "on");
    CHECK(raw.text("SHOW fsync") == "on");
  }
  // Nothing to look at: the server made each commit durable before it answered.
  void check_after_abrupt_end() const {}
  // Holds the row every write transaction locks first.
  static void hold_writes(Raw& raw) {
    REQUIRE(raw.error_of("BEGIN") == "");
    REQUIRE(raw.error_of("SELECT id FROM audit_lock WHERE id = 1 FOR UPDATE") == "");
  }
  static void release_writes(Raw& raw) { REQUIRE(raw.error_of("ROLLBACK") == ""); }
  static std::string drop_trigger(const std::string& name) { return "DROP TRIGGER " + name + " ON audit"; }
  [[nodiscard]] dh::Outcome<dh::store::AuditCheck> verify_offline() const {
    return dh::store::verify_audit_postgres(db_.url());
  }
  [[nodiscard]] dh::Outcome<dh::store::AuditCheck> verify_offline_missing() const {
    return dh::store::verify_audit_postgres(
        dh::store::testing::with_database(dh::store::testing::pg_url(), db_.name() + "_missing"));
  }

  [[nodiscard]] const dh::store::testing::PgDatabase& database() const noexcept { return db_; }

 private:
  dh::store::testing::PgDatabase db_;
};

}  // namespace

using Backend = PgBackend;
#include "tests/hub/store/store_cases.hpp"

namespace {

// Ends every client connection to the test's database but `raw`'s own, as an operator (or a
// server restart) would. (Not the server's own workers: autovacuum visits the database too.)
std::int64_t terminate_store_connections(PgRaw& raw) {
  return raw.scalar(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'");
}

// Waits (bounded) until the server has ended every other connection to the database.
void wait_until_gone(PgRaw& raw) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (raw.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'") > 0) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::yield();
  }
}

}  // namespace

TEST_CASE("two instances on one database: one accept per key, no entry leased twice, one audit chain") {
  Backend db;
  auto one = db.open();
  auto two = db.open();
  std::array<PgStore*, 2> instances{one.get(), two.get()};

  constexpr int kThreads = 4, kEach = 40, kShared = 30;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  // Keys of their own, each to one instance, alternating.
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::vector<Pending<AcceptResult>> pending(kEach);
      for (int i = 0; i < kEach; ++i)
        instances[static_cast<std::size_t>(i % 2)]->accept(
            make_accept("OWN-" + std::to_string(t) + "-" + std::to_string(i)), pending[i].done());
      for (auto& p : pending)
        if (auto r = p.get(); !r || r->duplicate) ++failed;
    });
  // The same key sent to both instances at the same time: exactly one stores it.
  std::vector<std::array<Pending<AcceptResult>, 2>> shared(kShared);
  std::vector<std::array<std::string, 2>> answers(kShared);
  for (int k = 0; k < kShared; ++k) {
    for (std::size_t i = 0; i < 2; ++i) {
      auto r = make_accept("SHARED-" + std::to_string(k));
      answers[k][i] = r.answer_json;
      instances[i]->accept(std::move(r), shared[k][i].done());
    }
  }
  for (auto& t : threads) t.join();
  CHECK(failed == 0);
  for (int k = 0; k < kShared; ++k) {
    auto a = shared[k][0].get();
    auto b = shared[k][1].get();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->duplicate != b->duplicate);
    const std::string& first = a->duplicate ? answers[k][1] : answers[k][0];
    CHECK(a->answer_json == first);
    CHECK(b->answer_json == first);
  }
  Backend::Raw raw(db);
  const std::int64_t accepted = kThreads * kEach + kShared;
  CHECK(raw.count("messages") == accepted);
  CHECK(raw.count("outbox") == accepted);

  // Both instances claim, two threads each, until nothing is left: every entry exactly once.
  std::mutex m;
  std::map<std::string, int> claimed;
  std::atomic<int> claim_errors{0};
  threads.clear();
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (;;) {
        auto got = instances[static_cast<std::size_t>(t % 2)]->claim(at(), std::chrono::seconds(60), 7, {});
        if (!got) {
          ++claim_errors;
          return;
        }
        if (got->empty()) return;
        std::lock_guard lock(m);
        for (const auto& e : *got) ++claimed[e.id];
      }
    });
  for (auto& t : threads) t.join();
  CHECK(claim_errors == 0);
  CHECK(static_cast<std::int64_t>(claimed.size()) == accepted);
  int twice = 0;
  for (const auto& [id, n] : claimed) twice += n > 1 ? 1 : 0;
  CHECK(twice == 0);
  CHECK(one->claim(at(30), std::chrono::seconds(60), 100, {}).value().empty());  // all leased until at(60)

  // One entry delivered by both (the second after the first removed it): one audit entry, one move.
  const std::string some_id = claimed.begin()->first;
  OutboxEntry entry;
  entry.id = some_id;
  const auto audit_before = raw.count("audit");
  REQUIRE(delivered_sync(*one, entry, Delivered{"EB100000001VN"}, at(5)));
  REQUIRE(delivered_sync(*two, entry, Delivered{"EB100000002VN"}, at(6)));
  CHECK(raw.count("audit") == audit_before + 2);         // delivered and the status move, once
  REQUIRE(retry_sync(*two, entry, at(60), "HTTP 503"));  // gone: nothing to retry, no error
  REQUIRE(dead_letter_sync(*two, entry, "HTTP 400", at(7)));
  CHECK(raw.count("audit") == audit_before + 2);
  CHECK(raw.count("dead_letters") == 0);

  for (auto* s : instances) {
    auto v = s->verify_audit();
    REQUIRE(v);
    CHECK(v->ok);
    CHECK(v->entries == 2 * accepted + 2);
  }
  CHECK(raw.scalar("SELECT count(DISTINCT seq) FROM audit") == raw.count("audit"));
  CHECK(raw.scalar("SELECT max(seq) FROM audit") == raw.count("audit"));
}

TEST_CASE("connections the server ended are replaced: the next operation succeeds") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  auto r = make_accept("PG-TERM-0");
  const std::string hub_id = *r.dossiers.front().dossier.hub_id;
  REQUIRE(accept_sync(s, std::move(r)));
  REQUIRE(s.dossier(hub_id));  // a read connection in the pool

  Backend::Raw raw(db);
  CHECK(terminate_store_connections(raw) >= 2);  // the writer's and the reader's
  wait_until_gone(raw);

  auto next = accept_sync(s, make_accept("PG-TERM-1"));
  REQUIRE(next);
  CHECK_FALSE(next->duplicate);
  auto d = s.dossier(hub_id);
  REQUIRE(d);
  CHECK(d->has_value());
  CHECK(s.claim(at(), std::chrono::seconds(30), 10, {}).value().size() == 2);
  CHECK(s.healthy());
  CHECK(s.stats().failed_transactions == 0);

  terminate_store_connections(raw);  // once more, with a claim first this time
  wait_until_gone(raw);
  CHECK(s.claim(at(100), std::chrono::seconds(30), 10, {}).value().size() == 2);
  CHECK(raw.count("messages") == 2);
}

TEST_CASE("a connection lost inside a transaction fails its batch with an error, and the store recovers by itself") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  REQUIRE(accept_sync(s, make_accept("PG-LOST-0")));
  Backend::Raw raw(db);
  std::uint64_t failed_before = 0;
  {
    WriterGate gate(s);  // the writer waits inside its transaction
    failed_before = s.stats().failed_transactions;
    terminate_store_connections(raw);
    wait_until_gone(raw);
    auto held = gate.release();  // its next statement finds the connection gone
    REQUIRE_FALSE(held);
    CHECK_THAT(held.error().message, Catch::Contains("connection"));
  }
  CHECK(s.stats().failed_transactions == failed_before + 1);
  CHECK_FALSE(s.healthy());
  // The probe connects again; then writes go through.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool healthy = false;
  while (!(healthy = s.healthy()) && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  CHECK(healthy);
  auto after = accept_sync(s, make_accept("PG-LOST-1"));
  REQUIRE(after);
  CHECK_FALSE(after->duplicate);
  CHECK(raw.count("messages") == 3);  // PG-LOST-0, the gate's, PG-LOST-1
  auto v = s.verify_audit();
  REQUIRE(v);
  CHECK(v->ok);
}

TEST_CASE("a server that stops answering costs an error after the statement timeout, not a hung writer") {
  Backend db;
  auto o = db.database().options();
  o.statement_timeout = std::chrono::milliseconds(300);
  PgStore s(o);
  REQUIRE(accept_sync(s, make_accept("PG-FROZEN-0")));
  Backend::Raw raw(db);
  // The writer's backend: the only client connection the store has made so far (no read yet).
  const auto pid = static_cast<pid_t>(
      raw.scalar("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                 "AND backend_type = 'client backend'"));
  REQUIRE(::kill(pid, SIGSTOP) == 0);  // the server process stops: no answer, no error, no closed socket
  const auto start = std::chrono::steady_clock::now();
  auto frozen = accept_sync(s, make_accept("PG-FROZEN-1"));
  const auto waited = std::chrono::steady_clock::now() - start;
  ::kill(pid, SIGCONT);
  REQUIRE_FALSE(frozen);
  CHECK_THAT(frozen.error().message, Catch::Contains("no answer within the statement timeout"));
  // Not hung: the server's timeout plus the client's 1 s margin is ~1.3 s. Only an upper bound, and a
  // loose one (no timed assertion: the error message above says which deadline ended it).
  CHECK(waited < std::chrono::seconds(10));
  CHECK_FALSE(s.healthy());
  // The stopped backend, running again, finds its client gone and ends (releasing what it took).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (raw.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(pid)) > 0) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::yield();
  }
  auto after = accept_sync(s, make_accept("PG-FROZEN-1"));
  REQUIRE(after);
  CHECK_FALSE(after->duplicate);  // nothing of the first try was committed
  CHECK(s.healthy());
}

TEST_CASE("connecting gives up at the connect timeout when the server never answers") {
  // A socket that listens and never answers: the handshake waits for the server's reply.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 8) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);

  PostgresOptions o;
  o.url = "postgresql://postgres@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/postgres";
  o.connect_timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(PgStore(o), Catch::Contains("no answer within the connect timeout"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  ::close(fd);
}

TEST_CASE("hubs starting together on a new database migrate it once") {
  Backend db;
  std::vector<std::thread> starters;
  std::atomic<int> started{0}, failed{0};
  for (int i = 0; i < 4; ++i)
    starters.emplace_back([&] {
      try {
        PgStore s(db.database().options());
        ++started;
      } catch (const std::exception&) {
        ++failed;
      }
    });
  for (auto& t : starters) t.join();
  CHECK(started == 4);
  CHECK(failed == 0);
  Backend::Raw raw(db);
  CHECK(raw.count("schema_migrations") == Backend::migration_count());
  CHECK(raw.count("audit_lock") == 1);
}

TEST_CASE("audit verify --db postgresql://...: the real binary on a hub database") {
  Backend db;
  {
    auto store = db.open();
    for (int i = 0; i < 3; ++i) REQUIRE(accept_sync(*store, make_accept("CLI-PG-" + std::to_string(i))));
  }
  auto run = [](const std::string& args) { return run_command(std::string(DH_HUB_BINARY) + " " + args); };
  const std::string url = db.database().url();
  auto ok = run("audit verify --db '" + url + "'");
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.output, Catch::Contains("audit chain intact: 6 entries checked"));

  Backend::Raw raw(db);
  REQUIRE(raw.error_of(Backend::drop_trigger("audit_no_update")) == "");
  REQUIRE(raw.error_of("UPDATE audit SET detail = 'agency=hcm-justice dossiers=0 outbox=0' WHERE seq = 3") == "");
  auto broken = run("audit verify --db '" + url + "'");
  CHECK(broken.exit_code == 1);
  CHECK_THAT(broken.output, Catch::Contains("BROKEN at seq 3"));

  auto missing = run("audit verify --db '" + with_database(pg_url(), db.database().name() + "_missing") + "'");
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.output, Catch::Contains("cannot connect"));
  CHECK_THAT(missing.output, !Catch::Contains("postgresql://"));  // the URL may hold a password: never echoed
}
