//! Shared by the ledger's test files: a database per test (SQLite in memory, or a fresh
//! PostgreSQL schema when `PAYCYCLE_TEST_POSTGRES_URL` is set), and a clock that follows a fake
//! gateway's virtual time.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use paycycle_core::Clock;
use paycycle_core::chrono::{DateTime, Utc};
use paycycle_ledger::{Ledger, LedgerBuilder};
use paycycle_sim::fake::FakeGateway;

/// The variable naming the PostgreSQL server for tests.
pub const PG_ENV: &str = "PAYCYCLE_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The PostgreSQL URL, or `None` after printing why the test is skipped.
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("skipped {test} on PostgreSQL: {PG_ENV} is not set (CI sets it; see .ci/run)");
            None
        }
    }
}

static N: AtomicU64 = AtomicU64::new(0);
static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// Drops the schemas left by earlier test processes that are no longer running (a schema's
/// name carries its process id), so the shared test database does not fill up.
async fn sweep_dead_schemas(url: String) {
    use sqlx::Executor;
    let Ok(pool) = sqlx::PgPool::connect(&url).await else {
        return;
    };
    let names: Vec<String> = sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%'")
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
    let me = std::process::id();
    for name in names {
        let pid: Option<u32> = name.rsplit('_').nth(2).and_then(|p| p.parse().ok());
        let alive = pid.is_some_and(|p| p == me || std::path::Path::new(&format!("/proc/{p}")).exists());
        if pid.is_some() && !alive {
            let _ = pool
                .execute(format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE").as_str())
                .await;
        }
    }
    pool.close().await;
}

/// A schema name no other test (or earlier run) uses.
pub fn unique_schema(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let clean: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    format!(
        "t_{clean}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000
    )
}

/// Where a test's ledger lives: the URL and, for PostgreSQL, its own schema.
#[derive(Debug, Clone)]
pub struct Place {
    pub url: String,
    pub schema: Option<String>,
}

impl Place {
    /// A fresh place for `test` on `db`; `None` when PostgreSQL is not configured.
    pub async fn new(db: Db, test: &str) -> Option<Place> {
        match db {
            Db::Sqlite => Some(Place {
                url: "sqlite::memory:".into(),
                schema: None,
            }),
            Db::Postgres => {
                let url = pg_url(test)?;
                SWEPT.get_or_init(|| sweep_dead_schemas(url.clone())).await;
                Some(Place {
                    url,
                    schema: Some(unique_schema(test)),
                })
            }
        }
    }

    /// A file-backed SQLite place (several connections), for tests that need concurrency.
    pub fn sqlite_file(test: &str) -> Place {
        let dir = std::env::temp_dir().join(format!("paycycle-ledger-{}", unique_schema(test)));
        let _ = std::fs::create_dir_all(&dir);
        Place {
            url: format!("sqlite://{}?mode=rwc", dir.join("ledger.db").display()),
            schema: None,
        }
    }

    pub fn builder(&self) -> LedgerBuilder {
        let b = Ledger::builder(self.url.clone());
        match &self.schema {
            Some(s) => b.schema(s.clone()),
            None => b,
        }
    }
}

/// The fake gateway's virtual time as a [`Clock`], so the ledger and the fake agree on "now".
#[derive(Debug, Clone)]
pub struct FakeClock(pub Arc<FakeGateway>);

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

/// Runs `$body` (an async fn taking a `Db`) as one test per backend.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Db::Postgres).await
                }
            )*
        }
    };
}
