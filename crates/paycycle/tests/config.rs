//! Choosing backends by configuration, and routing webhooks by name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use paycycle::{Error, GatewayConfig, Gateways};

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |k| map.get(k).cloned()
}

fn config_key(r: Result<GatewayConfig, Error>) -> String {
    match r {
        Err(Error::Config { key, .. }) => key,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn env_selection_names_the_missing_or_malformed_variable() {
    assert_eq!(config_key(GatewayConfig::from_vars(vars(&[]))), "PAYCYCLE_GATEWAY");
    let err = GatewayConfig::from_vars(vars(&[("PAYCYCLE_GATEWAY", "stripe")])).unwrap_err();
    assert!(err.to_string().contains("`stripe` is not a backend"), "{err}");
    assert_eq!(
        config_key(GatewayConfig::from_vars(vars(&[
            ("PAYCYCLE_GATEWAY", "cryptomus"),
            ("CRYPTOMUS_MERCHANT_ID", "m")
        ]))),
        "CRYPTOMUS_PAYMENT_KEY"
    );
    assert_eq!(
        config_key(GatewayConfig::from_vars(vars(&[
            ("PAYCYCLE_GATEWAY", "cryptomus"),
            ("CRYPTOMUS_MERCHANT_ID", "m"),
            ("CRYPTOMUS_PAYMENT_KEY", "k"),
            ("CRYPTOMUS_BASE_URL", "not a url"),
        ]))),
        "CRYPTOMUS_BASE_URL"
    );
    assert_eq!(
        config_key(GatewayConfig::from_vars(vars(&[
            ("PAYCYCLE_GATEWAY", "recurrente"),
            ("RECURRENTE_PUBLIC_KEY", "pk_test_1")
        ]))),
        "RECURRENTE_SECRET_KEY"
    );
    let c = GatewayConfig::from_vars(vars(&[
        ("PAYCYCLE_GATEWAY", " Recurrente "),
        ("RECURRENTE_PUBLIC_KEY", "pk_test_1"),
        ("RECURRENTE_SECRET_KEY", "sk_test_super_secret"),
        (
            "RECURRENTE_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_bmV3c2VjcmV0",
        ),
    ]))
    .unwrap();
    assert_eq!(c.name(), "recurrente");
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("sk_test_super_secret") && !debug.contains("whsec_"),
        "{debug}"
    );
    assert!(debug.contains("[2 redacted]"), "{debug}");
}

#[test]
fn a_config_file_chooses_the_backend() {
    let c: GatewayConfig =
        serde_json::from_str(r#"{"gateway":"cryptomus","merchant_id":"m-1","payment_key":"k-secret"}"#).unwrap();
    assert_eq!(c.name(), "cryptomus");
    assert!(!format!("{c:?}").contains("k-secret"));
    let err = serde_json::from_str::<GatewayConfig>(
        r#"{"gateway":"cryptomus","merchant_id":"m","payment_key":"k","typo":1}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("typo"), "an unknown field is named: {err}");
    let err = serde_json::from_str::<GatewayConfig>(r#"{"gateway":"cryptomus","payment_key":"k"}"#).unwrap_err();
    assert!(
        err.to_string().contains("merchant_id"),
        "a missing field is named: {err}"
    );
}

#[cfg(all(feature = "recurrente", feature = "cryptomus"))]
#[test]
fn built_gateways_are_the_configured_backends_and_webhooks_route_by_name() {
    let crypto: GatewayConfig = serde_json::from_str(
        r#"{"gateway":"cryptomus","merchant_id":"m-1","payment_key":"k1","base_url":"http://127.0.0.1:9"}"#,
    )
    .unwrap();
    let cards: GatewayConfig = serde_json::from_str(
        r#"{"gateway":"recurrente","public_key":"pk_test_1","secret_key":"sk_test_1","webhook_secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}"#,
    )
    .unwrap();
    let g = Gateways::from_configs([("crypto", &crypto), ("cards", &cards)]).unwrap();
    assert_eq!(g.names().collect::<Vec<_>>(), ["cards", "crypto"]);
    assert_eq!(g.get("crypto").unwrap().id().as_str(), "cryptomus");
    assert_eq!(g.get("cards").unwrap().id().as_str(), "recurrente");

    let body = paycycle::cryptomus::sign::sign_webhook(
        br#"{"type":"payment","uuid":"p1","order_id":"o1","amount":"5","currency":"USDT","status":"paid"}"#,
        "k1",
    )
    .unwrap();
    let headers = paycycle::http::HeaderMap::new();
    let event = g.verify_webhook("crypto", &headers, body.as_bytes()).unwrap();
    assert_eq!(event.merchant_reference.as_deref(), Some("o1"));
    assert!(matches!(
        g.verify_webhook("cards", &headers, body.as_bytes()),
        Err(Error::Webhook { .. })
    ));
    assert!(
        matches!(g.verify_webhook("nope", &headers, body.as_bytes()), Err(Error::Config { key, .. }) if key == "gateways.nope")
    );
}

#[cfg(not(feature = "recurrente"))]
#[test]
fn a_backend_compiled_out_names_its_feature() {
    let c: GatewayConfig =
        serde_json::from_str(r#"{"gateway":"recurrente","public_key":"pk_test_1","secret_key":"sk_test_1"}"#).unwrap();
    let err = c.build().unwrap_err();
    assert!(
        err.to_string().contains("enable the cargo feature `recurrente`"),
        "{err}"
    );
}

#[cfg(not(feature = "cryptomus"))]
#[test]
fn cryptomus_compiled_out_names_its_feature() {
    let c: GatewayConfig =
        serde_json::from_str(r#"{"gateway":"cryptomus","merchant_id":"m","payment_key":"k"}"#).unwrap();
    let err = c.build().unwrap_err();
    assert!(
        err.to_string().contains("enable the cargo feature `cryptomus`"),
        "{err}"
    );
}

#[cfg(feature = "recurrente")]
#[test]
fn recurrente_needs_only_the_secret_key() {
    let c = GatewayConfig::from_vars(vars(&[
        ("PAYCYCLE_GATEWAY", "recurrente"),
        ("RECURRENTE_SECRET_KEY", "sk_test_only"),
    ]))
    .unwrap();
    assert!(format!("{c:?}").contains("public_key: None"), "{c:?}");
    assert!(!format!("{c:?}").contains("sk_test_only"));
    c.build().unwrap();
    let c: GatewayConfig = serde_json::from_str(r#"{"gateway":"recurrente","secret_key":"sk_test_1"}"#).unwrap();
    c.build().unwrap();
}
