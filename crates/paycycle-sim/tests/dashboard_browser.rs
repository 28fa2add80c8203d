//! The dashboard in a real headless Chromium (Debian's `chromium`), driven over the Chrome
//! DevTools Protocol: a subscription is created through the API, the dashboard is opened, the
//! payer's Pay button and the clock's +1 month button are clicked, and the page shows the
//! renewal with its webhook delivered to a receiver.
//!
//! Without Chromium the test fails, saying so, unless `PAYCYCLE_SKIP_BROWSER=1` (CI installs
//! it: see `.ci/run`). `PAYCYCLE_CHROMIUM` names another binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// The Chromium binary: `PAYCYCLE_CHROMIUM`, else `chromium` or `chromium-browser` on the `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PAYCYCLE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
}

/// A headless Chromium with a fresh profile, killed (and its profile removed) on drop.
struct Browser {
    child: Child,
    profile: PathBuf,
    port: u16,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Chromium's helper processes may still write to the profile for a moment.
        for _ in 0..40 {
            let _ = std::fs::remove_dir_all(&self.profile);
            if !self.profile.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Browser {
    /// Starts `binary` and waits for its DevTools port.
    async fn launch(binary: &Path) -> Browser {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let profile = std::env::temp_dir().join(format!("paycycle-dashboard-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&profile).unwrap();
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut browser = Browser {
            child,
            profile,
            port: 0,
        };
        // Chromium writes the port it chose, then the browser's WebSocket path.
        let file = browser.profile.join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(port) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
            {
                browser.port = port;
                return browser;
            }
            if let Ok(Some(status)) = browser.child.try_wait() {
                panic!("chromium exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "chromium did not open its DevTools port in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A DevTools session on the browser's first page.
    async fn page(&self) -> Cdp {
        let list = format!("http://127.0.0.1:{}/json/list", self.port);
        let deadline = Instant::now() + Duration::from_secs(10);
        let ws = loop {
            let targets: Value = reqwest::get(&list).await.unwrap().json().await.unwrap();
            let page = targets
                .as_array()
                .and_then(|t| t.iter().find(|t| t["type"] == "page"))
                .and_then(|t| t["webSocketDebuggerUrl"].as_str());
            if let Some(ws) = page {
                break ws.to_owned();
            }
            assert!(Instant::now() < deadline, "no page target: {targets}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (socket, _) = tokio_tungstenite::connect_async(ws.as_str()).await.unwrap();
        Cdp { socket, next: 0 }
    }
}

/// One DevTools Protocol session (commands and their answers; events are skipped).
struct Cdp {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    next: u64,
}

impl Cdp {
    /// Sends a command; its `result`, or its `error` as `Err`.
    async fn call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next += 1;
        let id = self.next;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket.send(Message::text(msg)).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let msg = self.socket.next().await.expect("DevTools closed").unwrap();
                if let Message::Text(text) = msg {
                    let v: Value = serde_json::from_str(text.as_str()).unwrap();
                    if v["id"] == id {
                        return v;
                    }
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no answer to {method}"));
        match answer.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(answer["result"].clone()),
        }
    }

    /// Evaluates `expr` in the page; its value (`Err` while the page is changing).
    async fn eval(&mut self, expr: &str) -> Result<Value, Value> {
        let r = self
            .call("Runtime.evaluate", json!({"expression": expr, "returnByValue": true}))
            .await?;
        match r.get("exceptionDetails") {
            Some(e) => Err(e.clone()),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// Waits until `expr` is `true`.
    async fn wait_for(&mut self, expr: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.eval(expr).await != Ok(Value::Bool(true)) {
            assert!(Instant::now() < deadline, "timed out waiting for `{expr}`");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the current page is replaced by a new, loaded one.
    async fn wait_for_new_page(&mut self) {
        self.wait_for("window.__old_page !== true && document.readyState === 'complete'")
            .await;
    }

    /// Opens `url`.
    async fn goto(&mut self, url: &str) {
        let _ = self.eval("window.__old_page = true").await;
        self.call("Page.navigate", json!({ "url": url })).await.unwrap();
        self.wait_for_new_page().await;
    }

    /// Clicks the element `selector` and waits for the page it leads to.
    async fn click(&mut self, selector: &str) {
        let expr = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; window.__old_page = true; e.click(); return true; }})()",
            json!(selector)
        );
        assert_eq!(
            self.eval(&expr).await,
            Ok(Value::Bool(true)),
            "no `{selector}` on the page"
        );
        self.wait_for_new_page().await;
    }

    /// The text of the element `selector` (`""` when absent).
    async fn text(&mut self, selector: &str) -> String {
        let expr = format!("document.querySelector({})?.innerText ?? ''", json!(selector));
        self.eval(&expr).await.unwrap().as_str().unwrap_or_default().to_owned()
    }
}

#[tokio::test]
async fn paying_and_advancing_a_month_in_the_browser_shows_the_renewal_and_its_webhook() {
    let Some(binary) = chromium() else {
        if std::env::var("PAYCYCLE_SKIP_BROWSER").is_ok_and(|v| v == "1") {
            eprintln!("PAYCYCLE_SKIP_BROWSER=1: the browser test is skipped");
            return;
        }
        panic!(
            "chromium is not installed: install Debian's `chromium` package (apt-get install chromium), \
             or set PAYCYCLE_CHROMIUM to a Chromium binary, or PAYCYCLE_SKIP_BROWSER=1 to skip this test"
        );
    };
    let receiver = common::receiver(0).await;
    let sim = common::sim().await;
    // 1. A subscription, through the API.
    let body = json!({"amount": "15", "currency": "USD", "name": "Gold plan", "period": "monthly",
                      "order_id": "order-42", "url_callback": receiver.url});
    let uuid = common::uuid_of(&common::create(&sim, body).await);

    // 2. The dashboard lists it.
    let browser = Browser::launch(&binary).await;
    let mut page = browser.page().await;
    page.call("Page.enable", json!({})).await.unwrap();
    page.goto(&format!("{}/", sim.base_url())).await;
    let list = page.text("#subscriptions").await;
    assert!(
        list.contains(&uuid) && list.contains("order-42") && list.contains("pending"),
        "{list}"
    );

    // 3. Its page: the payer pays, then a month passes.
    page.click(&format!("a[href=\"/subscriptions/cryptomus/{uuid}\"]"))
        .await;
    assert_eq!(page.text("#status").await, "pending (cryptomus calls it wait_accept)");
    page.click("button#pay").await;
    assert_eq!(page.text("#status").await, "active");
    assert!(page.text("#timeline").await.contains("First charge succeeded: 15 USD"));
    page.click("button#advance-month").await;
    assert_eq!(page.text("#clock").await, "Simulated time: 2026-02-10 09:00:00 UTC");

    // 4. The renewal, and its webhook delivered (delivery is real time: reload until it is).
    let deadline = Instant::now() + Duration::from_secs(15);
    let renewal = loop {
        let row = page.text("#timeline tr.renewal").await;
        if row.contains("delivered (200)") {
            break row;
        }
        assert!(
            Instant::now() < deadline,
            "the renewal's webhook was not shown delivered: `{row}`"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        page.eval("window.__old_page = true; location.reload()").await.ok();
        page.wait_for_new_page().await;
    };
    assert!(renewal.contains("Renewal charged: 15 USD (period 2"), "{renewal}");
    assert!(renewal.contains("payment paid"), "{renewal}");
    assert!(renewal.contains(&receiver.url), "{renewal}");
    // The receiver got it: the recurrence, the first payment, the renewal's payment.
    sim.flush_webhooks().await;
    let received = receiver.json();
    assert_eq!(received.len(), 3, "{received:?}");
    assert_eq!(received[2]["type"], "payment");
    assert_eq!(received[2]["order_id"], "order-42");

    drop(page);
    drop(browser);
    sim.shutdown().await;
}
