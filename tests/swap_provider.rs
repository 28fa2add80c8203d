//! The swap_provider example's app function on all three backends, and the example itself
//! switching backend by PAYCYCLE_GATEWAY alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::Duration;

use paycycle_core::{CancelledBy, SubscriptionStatus};
use paycycle_examples::{harness_from_env, sell_wait_cancel};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Clone {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |k: &str| map.get(k).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_app_function_runs_on_every_backend() {
    let mut seen = Vec::new();
    for name in ["fake", "cryptomus", "recurrente"] {
        let (h, line) = harness_from_env(env(&[("PAYCYCLE_GATEWAY", name)])).await.unwrap();
        let report = sell_wait_cancel(h.as_ref(), Duration::from_secs(10)).await.unwrap();
        assert_eq!(report.gateway, name, "{line}");
        assert_eq!(
            report.statuses,
            [
                SubscriptionStatus::Pending,
                SubscriptionStatus::Active,
                SubscriptionStatus::Cancelled {
                    by: CancelledBy::Merchant
                }
            ],
            "{name}"
        );
        seen.push(report.gateway);
    }
    assert_eq!(seen, ["fake", "cryptomus", "recurrente"]);
}

#[tokio::test]
async fn nothing_set_means_cryptomus_on_the_simulator_and_bad_settings_are_named() {
    let (h, line) = harness_from_env(env(&[])).await.unwrap();
    assert_eq!(h.gateway().id().as_str(), "cryptomus");
    assert!(line.contains("simulator"), "{line}");
    let err = harness_from_env(env(&[("PAYCYCLE_GATEWAY", "paypal")]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("PAYCYCLE_GATEWAY"), "{err}");
    let err = harness_from_env(env(&[("PAYCYCLE_GATEWAY", "fake"), ("PAYCYCLE_FAKE_MIMIC", "stripe")]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("PAYCYCLE_FAKE_MIMIC"), "{err}");
    // With keys, the real provider is configured (no request is made until the app sells).
    let (h, line) = harness_from_env(env(&[
        ("PAYCYCLE_GATEWAY", "recurrente"),
        ("RECURRENTE_PUBLIC_KEY", "pk_live_x"),
        ("RECURRENTE_SECRET_KEY", "sk_live_x"),
    ]))
    .await
    .unwrap();
    assert_eq!(h.gateway().id().as_str(), "recurrente");
    assert!(line.contains("real provider"), "{line}");
}

/// The example binary (built by `cargo test`) changes backend with the variable alone.
#[test]
fn the_example_follows_paycycle_gateway() {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let bin = dir.join(format!("swap_provider{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        // A full `cargo test` builds the examples; a filtered run (`--test swap_provider`) does not.
        let status = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "paycycle-examples",
                "--example",
                "swap_provider",
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }
    assert!(bin.exists(), "missing {}", bin.display());
    for (value, expect) in [
        (None, "cryptomus"),
        (Some("fake"), "fake"),
        (Some("recurrente"), "recurrente"),
    ] {
        let mut cmd = std::process::Command::new(&bin);
        for k in [
            "PAYCYCLE_GATEWAY",
            "CRYPTOMUS_MERCHANT_ID",
            "RECURRENTE_SECRET_KEY",
            "PAYCYCLE_FAKE_MIMIC",
        ] {
            cmd.env_remove(k);
        }
        if let Some(v) = value {
            cmd.env("PAYCYCLE_GATEWAY", v);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{value:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(&format!("gateway: {expect}")), "{value:?}: {stdout}");
        assert!(
            stdout.contains("pending -> active -> cancelled (by merchant)"),
            "{stdout}"
        );
    }
}
