// Benchmark (not a test): durable accepts per second through the store's group commit, with 1,
// 16 and 64 submitters each waiting for its acknowledgement (as HTTP sessions do), beside the
// physical limits measured in the same run on the same disk: raw SQLite inserts of a row of the
// same size in WAL mode with synchronous=FULL, one row per commit and 100 rows per commit.
//
//   build/release/tests/sqlite_store_bench [--seconds S] [--runs N] [--dir DIR] [--only TEXT]
//
// Each accept commits a ~2 KB message, its dossier (JSON), one intake order and two audit
// entries. Prints the median of N runs (the cases taken in turn within each run), each on a
// fresh file in DIR (default: the system's temporary folder; it must be a real disk, not tmpfs,
// for fsync to mean anything). --only runs the cases whose label contains TEXT (for profiling one
// under perf).
#include "hub/common/ids.hpp"
#include "hub/store/sqlite_store.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <sqlite3.h>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace dh;
using namespace dh::store;

namespace {

// A result-delivery notice of about 2 KB, as agencies send them.
std::string message_body(const std::string& code) {
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><KetQua><MaHoSo>" + code + "</MaHoSo>";
  while (body.size() < 2000) body += "<GhiChu>Phiếu lý lịch tư pháp số 1, bản chính, giao tận tay</GhiChu>";
  return body + "</KetQua>";
}

Dossier sample_dossier(const std::string& code) {
  Dossier d;
  d.kind = DossierKind::result_delivery;
  d.agency = {"hcm-justice", "000.00.12.H29", "Sở Tư pháp Thành phố Hồ Chí Minh"};
  d.dossier_code = code;
  d.procedure = Procedure{"1.001234.000.00.00.H29", "Cấp Phiếu lý lịch tư pháp"};
  d.applicant = {"Nguyễn Thị Mai", "079301004512", "+84903123456", std::nullopt};
  d.delivery_address = Address{"12 Nguyễn Huệ",         "26740",      "Phường Bến Nghé", "760", "Quận 1", "79",
                               "Thành phố Hồ Chí Minh", std::nullopt, std::nullopt};
  d.items = {{"Phiếu lý lịch tư pháp số 1", 2, true}};
  d.fees = {25'000, PostagePayer::recipient};
  d.source = {code, SourceFormat::xml, std::nullopt};
  return d;
}

AcceptRequest make_request(const std::string& key) {
  const auto now = std::chrono::system_clock::now();
  Timestamp t;
  t.utc = std::chrono::floor<std::chrono::seconds>(now);
  AcceptRequest r;
  r.message.id = make_id(now);
  r.message.agency_id = "hcm-justice";
  r.message.idempotency_key = key;
  r.message.body = message_body(key);
  r.message.sha256 = sha256_hex(r.message.body);
  r.message.content_type = "application/xml";
  r.message.message_type = "ket-qua";
  r.message.request_id = key;
  r.message.received_at = t;
  StoredDossier sd;
  sd.dossier = sample_dossier(key);
  sd.dossier.hub_id = make_id(now);
  sd.dossier.received_at = t;
  sd.dossier.status = "accepted";
  sd.dossier.route = "700000";
  sd.dossier.source.sha256 = r.message.sha256;
  sd.order_id = make_id(now);
  sd.message_id = r.message.id;
  OutboxEntry e;
  e.id = *sd.order_id;
  e.target = "vnpost";
  e.hub_id = *sd.dossier.hub_id;
  e.url = "https://postal.example/v1/orders";
  e.content_type = "application/json";
  e.payload = R"({"order_id":")" + e.id + R"(","service":"result_delivery","dossier_code":")" + key + R"("})";
  e.due_at = t;
  r.answer_json = R"({"receipt":")" + r.message.id + R"(","duplicate":false,"dossiers":[{"hub_id":")" +
                  *sd.dossier.hub_id + R"(","status":"accepted"}]})";
  r.dossiers.push_back(std::move(sd));
  r.outbox.push_back(std::move(e));
  return r;
}

struct Figure {
  double per_second = 0;
  double per_commit = 0;
};

// N submitters, each accepting and waiting for the acknowledgement, for `seconds`.
Figure store_run(const fs::path& file, int submitters, double seconds) {
  SqliteOptions o;
  o.file = file;
  SqliteStore store(o);
  std::atomic<std::uint64_t> done{0}, failed{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  for (int t = 0; t < submitters; ++t) {
    threads.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      for (std::uint64_t i = 0; Clock::now() < until; ++i) {
        auto p = std::make_shared<std::promise<bool>>();
        auto f = p->get_future();
        store.accept(make_request("B" + std::to_string(t) + "-" + std::to_string(i)),
                     [p](Outcome<AcceptResult> r) { p->set_value(r && !r->duplicate); });
        (f.get() ? done : failed)++;
      }
    });
  }
  const auto before = store.stats();
  const auto start = Clock::now();
  go = true;
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const auto after = store.stats();
  if (failed) std::fprintf(stderr, "store: %llu accepts failed\n", static_cast<unsigned long long>(failed.load()));
  Figure f;
  f.per_second = static_cast<double>(done) / elapsed;
  f.per_commit = static_cast<double>(after.operations - before.operations) /
                 static_cast<double>(std::max<std::uint64_t>(1, after.transactions - before.transactions));
  return f;
}

bool ok(int rc, sqlite3* db) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE) return true;
  std::fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
  return false;
}

// The physical limit: plain inserts of one ~2 KB row, `rows_per_commit` per transaction.
Figure raw_run(const fs::path& file, int rows_per_commit, double seconds) {
  sqlite3* db = nullptr;
  Figure f;
  if (!ok(sqlite3_open(file.c_str(), &db), db) ||
      !ok(sqlite3_exec(db,
                       "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                       "CREATE TABLE t (id TEXT PRIMARY KEY, body BLOB NOT NULL)",
                       nullptr, nullptr, nullptr),
          db)) {
    sqlite3_close(db);
    return f;
  }
  sqlite3_stmt *ins = nullptr, *begin = nullptr, *commit = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO t (id, body) VALUES (?1, ?2)", -1, &ins, nullptr);
  sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, nullptr);
  sqlite3_prepare_v2(db, "COMMIT", -1, &commit, nullptr);
  const std::string body = message_body("RAW");
  std::uint64_t rows = 0;
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    sqlite3_step(begin);
    sqlite3_reset(begin);
    for (int i = 0; i < rows_per_commit; ++i) {
      const std::string id = make_id(std::chrono::system_clock::now());
      sqlite3_bind_text(ins, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
      sqlite3_bind_blob(ins, 2, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
      if (!ok(sqlite3_step(ins), db)) break;
      sqlite3_reset(ins);
    }
    if (!ok(sqlite3_step(commit), db)) break;
    sqlite3_reset(commit);
    rows += static_cast<std::uint64_t>(rows_per_commit);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  sqlite3_finalize(ins);
  sqlite3_finalize(begin);
  sqlite3_finalize(commit);
  sqlite3_close(db);
  f.per_second = static_cast<double>(rows) / elapsed;
  f.per_commit = rows_per_commit;
  return f;
}

Figure median(std::vector<Figure> v) {
  std::sort(v.begin(), v.end(), [](const Figure& a, const Figure& b) { return a.per_second < b.per_second; });
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  int runs = 5;
  fs::path dir = fs::temp_directory_path();
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 < argc && a == "--seconds")
      seconds = std::stod(argv[++i]);
    else if (i + 1 < argc && a == "--runs")
      runs = std::stoi(argv[++i]);
    else if (i + 1 < argc && a == "--dir")
      dir = argv[++i];
    else if (i + 1 < argc && a == "--only")
      only = argv[++i];
    else {
      std::fprintf(stderr, "usage: sqlite_store_bench [--seconds S] [--runs N] [--dir DIR] [--only TEXT]\n");
      return 2;
    }
  }
  const fs::path work = dir / ("sqlite_store_bench-" + make_id(std::chrono::system_clock::now()));
  fs::create_directories(work);
  int file_no = 0;
  auto fresh = [&] {
    const fs::path f = work / ("run-" + std::to_string(file_no++) + ".db");
    return f;
  };

  struct Case {
    std::string label;
    std::function<Figure(const fs::path&)> run;
  };
  const std::vector<Case> cases = {
      {"raw insert, 1 row per commit", [&](const fs::path& f) { return raw_run(f, 1, seconds); }},
      {"raw insert, 100 rows per commit", [&](const fs::path& f) { return raw_run(f, 100, seconds); }},
      {"store accept, 1 submitter", [&](const fs::path& f) { return store_run(f, 1, seconds); }},
      {"store accept, 16 submitters", [&](const fs::path& f) { return store_run(f, 16, seconds); }},
      {"store accept, 64 submitters", [&](const fs::path& f) { return store_run(f, 64, seconds); }},
  };
  std::printf("sqlite_store_bench: %d runs of %.1f s each, median; SQLite %s, WAL, synchronous=FULL; files in %s\n",
              runs, seconds, sqlite3_libversion(), work.c_str());
  // Round robin: every run measures every case once, so that a slow spell of the shared disk
  // (fsync latency here varies tenfold from minute to minute) falls on all cases alike.
  std::vector<std::vector<Figure>> figures(cases.size());
  for (int r = 0; r < runs; ++r)
    for (std::size_t i = 0; i < cases.size(); ++i)
      if (only.empty() || cases[i].label.find(only) != std::string::npos) figures[i].push_back(cases[i].run(fresh()));
  std::printf("%-34s %12s %12s %12s\n", "case", "per second", "per commit", "commits/s");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (figures[i].empty()) continue;
    const Figure m = median(figures[i]);
    std::printf("%-34s %12.0f %12.1f %12.0f\n", cases[i].label.c_str(), m.per_second, m.per_commit,
                m.per_second / m.per_commit);
  }
  std::error_code ec;
  fs::remove_all(work, ec);
  return 0;
}
