//! The production example (`cargo run --example shop`) prints its story: run the example binary
//! that `cargo test` builds, and check the access answers it prints at each step.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn the_shop_prints_access_through_a_whole_life() {
    let exe = std::env::current_exe().unwrap();
    let examples = exe.parent().and_then(|deps| deps.parent()).unwrap().join("examples");
    let shop = examples.join(format!("shop{}", std::env::consts::EXE_SUFFIX));
    assert!(shop.exists(), "cargo test builds the examples: {}", shop.display());
    let out = Command::new(&shop).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let access = |step: &str| -> String {
        stdout
            .lines()
            .filter_map(|l| l.split_once("access: "))
            .find(|(label, _)| label.trim_end().ends_with(step))
            .map(|(_, access)| access)
            .unwrap_or_else(|| panic!("no line for {step:?} in:\n{stdout}"))
            .trim()
            .to_owned()
    };
    assert_eq!(access("checkout created, not paid"), "no  NoSubscription");
    assert_eq!(access("  paid"), "yes Active until 2026-02-01");
    assert_eq!(access("renewed"), "yes Active until 2026-03-01");
    assert_eq!(access("renewal failed: past due"), "yes PastDueGrace until 2026-03-04");
    assert_eq!(
        access("past due, day 2 of 3 of grace"),
        "yes PastDueGrace until 2026-03-04"
    );
    assert_eq!(access("retry failed, grace over"), "no  PastDueExpired");
    assert_eq!(access("last retry failed: cancelled"), "no  Cancelled");
    assert_eq!(access("accepted, 1 USDT intro paid"), "yes Active until 2026-04-07");
    assert_eq!(
        access("cancelled by the shop, month paid"),
        "yes CancelledPaidThrough until 2026-05-07"
    );
    assert_eq!(access("the paid month is over"), "no  Cancelled");
    assert!(stdout.contains("0 pending, 0 parked"), "{stdout}");
}
