use super::helpers::{is_cidr, is_valid_path_segment_name, is_valid_percent, NameRule};

/// Each kind's name rule accepts and rejects what Kubernetes' does.
#[test]
fn name_rules_match_kubernetes() {
    assert!(NameRule::Dns1123Subdomain.check("web.v1", false).is_empty());
    assert!(!NameRule::Dns1123Label.check("web.v1", false).is_empty());
    assert!(!NameRule::Dns1035Label.check("1web", false).is_empty());
    assert!(NameRule::Dns1123Label.check("1web", false).is_empty());
    assert!(NameRule::PathSegment.check("system:node", false).is_empty());
    assert_eq!(is_valid_path_segment_name(".."), ["may not be '..'"]);
    assert_eq!(
        is_valid_path_segment_name("a/b%"),
        ["may not contain '/'", "may not contain '%'"]
    );
    // generateName may end in a dash.
    assert!(NameRule::Dns1123Subdomain.check("web-", true).is_empty());
    assert!(!NameRule::Dns1123Subdomain.check("web-", false).is_empty());
}

/// Percent strings and CIDRs are recognised as apimachinery recognises them.
#[test]
fn percents_and_cidrs_are_recognised() {
    assert!(is_valid_percent("25%").is_empty());
    assert!(!is_valid_percent("25").is_empty());
    assert!(!is_valid_percent("%").is_empty());
    assert!(is_cidr("10.244.0.0/16"));
    assert!(is_cidr("fd00::/64"));
    assert!(!is_cidr("10.244.0.0/33"));
    assert!(!is_cidr("10.244.0.0"));
}
