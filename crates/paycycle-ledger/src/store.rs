//! The database: one `sqlx` `Any` pool over SQLite or PostgreSQL, embedded migrations, and the few
//! places where the two dialects differ.
//!
//! Every query is written once with `$n` placeholders (SQLite reads them as numbered parameters)
//! and no `query!` macros, so building never needs a live database. Times are stored as
//! microseconds since the Unix epoch, money as decimal text: the same schema on both backends.

use std::borrow::Cow;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::LedgerError;

/// Which database a ledger runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: one writer at a time (an in-process lock, and `BEGIN IMMEDIATE` across processes).
    Sqlite,
    /// PostgreSQL: any number of workers on any number of instances
    /// (`FOR UPDATE SKIP LOCKED`).
    Postgres,
}

impl Backend {
    pub(crate) fn of_url(url: &str) -> Result<Backend, LedgerError> {
        if url.starts_with("sqlite:") {
            if cfg!(feature = "sqlite") {
                Ok(Backend::Sqlite)
            } else {
                Err(LedgerError::Config(
                    "a sqlite: URL needs the `sqlite` feature of paycycle-ledger (`ledger` of paycycle)".into(),
                ))
            }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            if cfg!(feature = "postgres") {
                Ok(Backend::Postgres)
            } else {
                Err(LedgerError::Config(
                    "a postgres: URL needs the `postgres` feature of paycycle-ledger (`ledger-postgres` of paycycle)"
                        .into(),
                ))
            }
        } else {
            Err(LedgerError::Config(
                "the database URL must start with `sqlite:` or `postgres:`".into(),
            ))
        }
    }

    /// The row-lock suffix of a `SELECT` that is about to update what it read.
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// The suffix of the claim query: skip rows another worker holds.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// The pool plus what the dialect needs.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// SQLite allows one writer: in-process writers queue here (fairly) instead of spinning in
    /// SQLite's busy handler.
    write_lock: Mutex<()>,
}

/// A write transaction: holds the SQLite write lock (if any) for its whole life.
pub(crate) struct WriteTx<'a> {
    pub(crate) tx: Transaction<'static, Any>,
    _guard: Option<MutexGuard<'a, ()>>,
}

impl std::fmt::Debug for WriteTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteTx")
    }
}

impl WriteTx<'_> {
    pub(crate) async fn commit(self) -> Result<(), LedgerError> {
        self.tx.commit().await.map_err(LedgerError::store)
    }
}

/// Options for opening a store.
#[derive(Debug, Clone)]
pub(crate) struct StoreOptions {
    pub(crate) max_connections: u32,
    pub(crate) acquire_timeout: Duration,
    pub(crate) schema: Option<String>,
}

impl Store {
    pub(crate) async fn connect(url: &str, options: &StoreOptions) -> Result<Store, LedgerError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let connect: AnyConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| LedgerError::Config(format!("the database URL does not parse: {e}")))?;
        let in_memory = backend == Backend::Sqlite && (url.contains(":memory:") || url.contains("mode=memory"));
        // An in-memory SQLite database exists once per connection: keep exactly one.
        let max = if in_memory { 1 } else { options.max_connections.max(1) };
        let schema = match &options.schema {
            Some(s) => Some(valid_schema(s)?),
            None => None,
        };
        if let (Backend::Postgres, Some(schema)) = (backend, &schema) {
            // Create the schema before any pooled connection puts it on its search path.
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
                .await
                .map_err(LedgerError::store)?;
            pool.execute(sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")))
                .await
                .map_err(LedgerError::store)?;
            pool.close().await;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                let schema = schema.clone();
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => {
                            // WAL lets readers run beside the writer; FULL makes every commit
                            // durable before `receive` answers; the busy timeout covers another
                            // process holding the write lock.
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = FULL").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                        }
                        Backend::Postgres => {
                            if let Some(schema) = schema {
                                conn.execute(sqlx::query(&format!("SET search_path TO \"{schema}\"")))
                                    .await?;
                            }
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await
            .map_err(LedgerError::store)?;
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| LedgerError::Store(format!("migrating the ledger schema: {e}")))?;
        Ok(Store {
            pool,
            backend,
            write_lock: Mutex::new(()),
        })
    }

    /// Starts a write transaction: on SQLite, after taking the in-process write lock, with
    /// `BEGIN IMMEDIATE` (the write lock of the file, so a read never has to upgrade).
    pub(crate) async fn begin_write(&self) -> Result<WriteTx<'_>, LedgerError> {
        match self.backend {
            Backend::Sqlite => {
                let guard = self.write_lock.lock().await;
                let tx = self
                    .pool
                    .begin_with(Cow::Borrowed("BEGIN IMMEDIATE"))
                    .await
                    .map_err(LedgerError::store)?;
                Ok(WriteTx {
                    tx,
                    _guard: Some(guard),
                })
            }
            Backend::Postgres => {
                let tx = self.pool.begin().await.map_err(LedgerError::store)?;
                Ok(WriteTx { tx, _guard: None })
            }
        }
    }

    /// On PostgreSQL, serializes the tail of every transaction that writes the outbox, so
    /// outbox sequence numbers become visible in order (a consumer's cursor never skips a row
    /// that commits late). Taken last, just before the outbox inserts, so it is held briefly.
    pub(crate) async fn lock_outbox(&self, tx: &mut WriteTx<'_>) -> Result<(), LedgerError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7243012345)")
                .execute(&mut *tx.tx)
                .await
                .map_err(LedgerError::store)?;
        }
        Ok(())
    }
}

impl Store {
    /// Serializes the transactions about one merchant reference of one gateway (PostgreSQL: a
    /// transaction-scoped advisory lock on a hash of the two; SQLite has one writer anyway). A
    /// payment that arrives before its subscription and the subscription's creation then never
    /// both miss each other. Taken before any subscription row lock.
    pub(crate) async fn lock_reference(
        &self,
        tx: &mut WriteTx<'_>,
        gateway: &str,
        reference: &str,
    ) -> Result<(), LedgerError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7243))")
                .bind(format!("{gateway}\u{1f}{reference}"))
                .execute(&mut *tx.tx)
                .await
                .map_err(LedgerError::store)?;
        }
        Ok(())
    }
}

fn valid_schema(s: &str) -> Result<String, LedgerError> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(s.to_owned())
    } else {
        Err(LedgerError::Config(format!(
            "schema `{s}`: use 1 to 63 ASCII letters, digits and `_`, not starting with a digit"
        )))
    }
}

/// A time as stored: microseconds since the epoch.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A stored time back.
pub(crate) fn from_micros(column: &str, v: i64) -> Result<DateTime<Utc>, LedgerError> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| LedgerError::corrupt(column, format!("time {v} is out of range")))
}

pub(crate) fn opt_from_micros(column: &str, v: Option<i64>) -> Result<Option<DateTime<Utc>>, LedgerError> {
    v.map(|v| from_micros(column, v)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_checked() {
        assert!(valid_schema("billing_1").is_ok());
        for bad in ["", "1abc", "a-b", "a\"b", "a b", &"x".repeat(64)] {
            assert!(valid_schema(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::of_url("sqlite::memory:").ok(), Some(Backend::Sqlite));
        assert!(Backend::of_url("mysql://x").is_err());
        #[cfg(feature = "postgres")]
        assert_eq!(Backend::of_url("postgres://u@h/db").ok(), Some(Backend::Postgres));
    }

    #[test]
    fn times_round_trip_to_the_microsecond() {
        let t: DateTime<Utc> = "2026-03-01T12:34:56.123456Z".parse().unwrap_or_default();
        assert_eq!(from_micros("t", micros(t)).ok(), Some(t));
        assert!(from_micros("t", i64::MAX).is_err());
    }
}
