-- paycycle ledger, SQLite. Times are microseconds since the Unix epoch (UTC); money is decimal
-- text next to its currency code, never a float. The Postgres schema is the same tables.

-- Every verified webhook, as received, once per (gateway, event id): the inbox and the
-- normalized event in one row, so a redelivery is a no-op insert.
CREATE TABLE paycycle_inbox (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway            TEXT    NOT NULL,
    event_id           TEXT    NOT NULL,
    received_at        BIGINT  NOT NULL,
    headers            TEXT    NOT NULL,
    body               BLOB    NOT NULL,
    kind               TEXT    NOT NULL,
    provider_type      TEXT    NOT NULL,
    subscription_id    TEXT,
    merchant_reference TEXT,
    occurred_at        BIGINT,
    event              TEXT    NOT NULL,
    state              TEXT    NOT NULL DEFAULT 'pending',
    attempts           BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT  NOT NULL,
    last_error         TEXT,
    outcome            TEXT,
    applied_at         BIGINT,
    UNIQUE (gateway, event_id)
);
CREATE INDEX paycycle_inbox_due ON paycycle_inbox (state, next_attempt_at, id);

CREATE TABLE paycycle_subscriptions (
    gateway            TEXT    NOT NULL,
    subscription_id    TEXT    NOT NULL,
    merchant_reference TEXT,
    customer           TEXT,
    checkout_id        TEXT,
    status             TEXT    NOT NULL,
    status_label       TEXT    NOT NULL,
    amount             TEXT,
    currency           TEXT,
    billing_interval   TEXT,
    current_period_start BIGINT,
    current_period_end BIGINT,
    last_paid_at       BIGINT,
    status_since       BIGINT,
    last_event_at      BIGINT,
    synced_at          BIGINT,
    synced_mark        BIGINT,
    applied_mark       BIGINT,
    version            BIGINT  NOT NULL,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    PRIMARY KEY (gateway, subscription_id)
);
CREATE INDEX paycycle_subscriptions_reference ON paycycle_subscriptions (merchant_reference);
CREATE INDEX paycycle_subscriptions_checkout ON paycycle_subscriptions (gateway, checkout_id);

CREATE TABLE paycycle_payments (
    gateway            TEXT    NOT NULL,
    payment_id         TEXT    NOT NULL,
    subscription_id    TEXT,
    merchant_reference TEXT,
    status             TEXT    NOT NULL,
    amount             TEXT,
    currency           TEXT,
    paid_amount        TEXT,
    paid_currency      TEXT,
    failure_reason     TEXT,
    event_id           TEXT    NOT NULL,
    occurred_at        BIGINT,
    recorded_at        BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    PRIMARY KEY (gateway, payment_id)
);

-- Changes for the app, in commit order.
CREATE TABLE paycycle_outbox (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at         BIGINT  NOT NULL,
    kind               TEXT    NOT NULL,
    gateway            TEXT,
    subscription_id    TEXT,
    merchant_reference TEXT,
    payload            TEXT    NOT NULL
);

-- Per named consumer: every change up to `acked_through` is acknowledged; beyond it, leases.
CREATE TABLE paycycle_consumers (
    consumer           TEXT    PRIMARY KEY,
    acked_through      BIGINT  NOT NULL
);
CREATE TABLE paycycle_change_leases (
    consumer           TEXT    NOT NULL,
    seq                BIGINT  NOT NULL,
    leased_until       BIGINT  NOT NULL,
    acked              BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (consumer, seq)
);
