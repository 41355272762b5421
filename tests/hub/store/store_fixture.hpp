// What the store tests share: a temporary folder, requests built from a valid dossier, the
// asynchronous writes made synchronous, a raw SQLite connection to look behind the store's back,
// and a gate that holds the writer inside a transaction so that the next writes queue up. The
// cases that every store must pass are in store_cases.hpp.
#pragma once

#include "hub/common/ids.hpp"
#include "hub/store/sqlite_store.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <sqlite3.h>
#include <string>
#include <sys/wait.h>
#include <system_error>

// Catch2 prints an outcome by its error; boost's operator<< would need every value type printable.
namespace Catch {
template <class T>
struct StringMaker<boost::system::result<T, dh::Error>> {
  static std::string convert(const boost::system::result<T, dh::Error>& r) {
    return r ? std::string("(a value)") : "(error: " + r.error().message + ")";
  }
};
}  // namespace Catch

namespace dh::store::testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> n{0};
    path_ = fs::temp_directory_path() /
            ("dh-store-" + make_id(std::chrono::system_clock::now()) + "-" + std::to_string(n++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const noexcept { return path_; }
  [[nodiscard]] fs::path file(const std::string& name = "hub.db") const { return path_ / name; }

 private:
  fs::path path_;
};

// 2025-01-15T08:30:00+07:00 plus `seconds`.
inline Timestamp at(int seconds = 0) {
  auto t = *Timestamp::from_civil(2025, 1, 15, 8, 30, 0, 0, kVietnamOffsetMinutes);
  t.utc += std::chrono::seconds(seconds);
  return t;
}

inline bool same_instant(const Timestamp& a, const Timestamp& b) {
  return a.utc == b.utc && a.nanos == b.nanos;
}

inline Dossier sample_dossier() {
  Dossier d;
  d.kind = DossierKind::result_delivery;
  d.agency = {"hcm-justice", "000.00.12.H29", "Sở Tư pháp Thành phố Hồ Chí Minh"};
  d.dossier_code = "000.00.12.H29-250115-0042";
  d.procedure = Procedure{"1.001234.000.00.00.H29", "Cấp Phiếu lý lịch tư pháp"};
  d.applicant = {"Nguyễn Thị Mai", "079301004512", "+84903123456", std::nullopt};
  d.delivery_address = Address{"12 Nguyễn Huệ",         "26740",      "Phường Bến Nghé", "760", "Quận 1", "79",
                               "Thành phố Hồ Chí Minh", std::nullopt, std::nullopt};
  d.items = {{"Phiếu lý lịch tư pháp số 1", 2, true}};
  d.fees = {25'000, PostagePayer::recipient};
  d.source = {"STP-2025-000042", SourceFormat::xml, std::nullopt};
  return d;
}

// A message with `dossiers` dossiers, each with its intake order (order id = outbox entry id).
inline AcceptRequest make_accept(const std::string& key, int dossiers = 1, const std::string& agency = "hcm-justice",
                                 const std::string& dossier_code = "000.00.12.H29-250115-0042") {
  const auto now = std::chrono::system_clock::now();
  AcceptRequest r;
  r.message.id = make_id(now);
  r.message.agency_id = agency;
  r.message.idempotency_key = key;
  r.message.body = "<HoSo><MaHoSo>" + dossier_code + "</MaHoSo></HoSo>";
  r.message.sha256 = sha256_hex(r.message.body);
  r.message.content_type = "application/xml";
  r.message.message_type = "ket-qua";
  r.message.request_id = "req-" + key;
  r.message.received_at = at();
  std::string answer = R"({"receipt":")" + r.message.id + R"(","duplicate":false,"dossiers":[)";
  for (int i = 0; i < dossiers; ++i) {
    StoredDossier sd;
    sd.dossier = sample_dossier();
    sd.dossier.agency.id = agency;
    sd.dossier.dossier_code = dossier_code;
    sd.dossier.hub_id = make_id(now);
    sd.dossier.received_at = at();
    sd.dossier.status = "accepted";
    sd.dossier.route = "700000";
    sd.dossier.source.sha256 = r.message.sha256;
    sd.status = Status::accepted;
    sd.order_id = make_id(now);
    sd.message_id = r.message.id;
    if (i == 1) sd.route_flags = {"split_ward"};
    OutboxEntry e;
    e.id = *sd.order_id;
    e.kind = OutboxKind::postal_order;
    e.target = "vnpost";
    e.hub_id = *sd.dossier.hub_id;
    e.url = "https://postal.example/v1/orders";
    e.content_type = "application/json";
    e.payload = R"({"order_id":")" + e.id + R"("})";
    e.due_at = at();
    answer += (i ? "," : "") + std::string(R"({"hub_id":")") + *sd.dossier.hub_id + R"("})";
    r.dossiers.push_back(std::move(sd));
    r.outbox.push_back(std::move(e));
  }
  r.answer_json = answer + "]}";
  return r;
}

// A write's completion as a future (the promise is shared: the writer may still be in
// set_value when the waiting thread goes on).
template <class T>
struct Pending {
  std::shared_ptr<std::promise<Outcome<T>>> promise = std::make_shared<std::promise<Outcome<T>>>();
  std::future<Outcome<T>> future = promise->get_future();
  Done<T> done() {
    return [p = promise](Outcome<T> r) { p->set_value(std::move(r)); };
  }
  Outcome<T> get() { return future.get(); }
};

inline Outcome<AcceptResult> accept_sync(Store& s, AcceptRequest r) {
  Pending<AcceptResult> p;
  s.accept(std::move(r), p.done());
  return p.get();
}

inline Outcome<EventOutcome> apply_sync(Store& s, StatusEvent e, CallbackMaker make = {}) {
  Pending<EventOutcome> p;
  s.apply_event(std::move(e), std::move(make), p.done());
  return p.get();
}

inline StatusEvent event(const std::string& id, const std::string& order_id, Status status, int seconds = 0) {
  StatusEvent e;
  e.event_id = id;
  e.order_id = order_id;
  e.status = status;
  e.occurred_at = at(seconds);
  e.received_at = at(seconds + 1);
  return e;
}

// What a command printed (standard output and error) and how it exited: the CLI as operators run it.
struct Run {
  int exit_code = -1;
  std::string output;
};

inline Run run_command(const std::string& command) {
  Run r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int status = pclose(p);
  REQUIRE(WIFEXITED(status));
  r.exit_code = WEXITSTATUS(status);
  return r;
}

// Behind the store's back: counts rows, changes them.
class RawDb {
 public:
  explicit RawDb(const fs::path& file) {
    REQUIRE(sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  std::int64_t scalar(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    const std::int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    std::string v = p ? p : "";
    sqlite3_finalize(s);
    return v;
  }
  std::int64_t count(const std::string& table) { return scalar("SELECT count(*) FROM " + table); }
  // SQLite's result code.
  int exec(const std::string& sql) { return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }
  // "" when `sql` ran, else SQLite's message.
  std::string error_of(const std::string& sql) {
    return exec(sql) == SQLITE_OK ? std::string() : std::string(sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_ = nullptr;
};

// Holds the writer inside a transaction (in the callback maker of an event that moves a fresh
// dossier) until release(): writes submitted meanwhile all go into the next batch.
class WriterGate {
 public:
  explicit WriterGate(Store& s) {
    auto r = make_accept("gate-" + make_id(std::chrono::system_clock::now()));
    const std::string order = *r.dossiers.front().order_id;
    REQUIRE(accept_sync(s, std::move(r)));
    auto entered = std::make_shared<std::promise<void>>();
    auto inside = entered->get_future();
    auto gate = release_->get_future().share();
    s.apply_event(
        event("gate-" + order, order, Status::picked_up),
        [entered, gate](const StoredDossier&, const StatusEvent&) {
          entered->set_value();
          gate.wait();
          return std::vector<OutboxEntry>{};
        },
        held_.done());
    inside.wait();
  }
  ~WriterGate() { release(); }
  WriterGate(const WriterGate&) = delete;
  WriterGate& operator=(const WriterGate&) = delete;

  // Lets the writer go on; answers the held event's outcome.
  Outcome<EventOutcome> release() {
    if (!released_) {
      released_ = true;
      release_->set_value();
    }
    if (!outcome_) outcome_.emplace(held_.get());
    return *outcome_;
  }

 private:
  std::shared_ptr<std::promise<void>> release_ = std::make_shared<std::promise<void>>();
  Pending<EventOutcome> held_;
  bool released_ = false;
  std::optional<Outcome<EventOutcome>> outcome_;
};

}  // namespace dh::store::testing
