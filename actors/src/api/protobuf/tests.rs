//! Decoding Kubernetes protobuf bodies built here field by field, the way
//! apimachinery's generated marshallers lay them out.

use serde_json::json;

use super::*;

/// A message under construction: fields appended in wire order.
#[derive(Default, Clone)]
struct Pb(Vec<u8>);

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Pb {
    fn new() -> Pb {
        Pb::default()
    }

    fn int(mut self, number: u32, v: u64) -> Pb {
        varint(&mut self.0, u64::from(number) << 3);
        varint(&mut self.0, v);
        self
    }

    fn bytes(mut self, number: u32, b: &[u8]) -> Pb {
        varint(&mut self.0, (u64::from(number) << 3) | 2);
        varint(&mut self.0, b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }

    fn fixed(mut self, number: u32, wire: u64, le: &[u8]) -> Pb {
        varint(&mut self.0, (u64::from(number) << 3) | wire);
        self.0.extend_from_slice(le);
        self
    }

    fn str(self, number: u32, s: &str) -> Pb {
        self.bytes(number, s.as_bytes())
    }

    fn msg(self, number: u32, m: Pb) -> Pb {
        self.bytes(number, &m.0)
    }

    /// A `map<string, string>` entry.
    fn entry(self, number: u32, key: &str, value: &str) -> Pb {
        self.msg(number, Pb::new().str(1, key).str(2, value))
    }
}

/// `k8s\0` + `runtime.Unknown{typeMeta, raw}`.
fn body(api_version: &str, kind: &str, object: Pb) -> Vec<u8> {
    let unknown = Pb::new()
        .msg(1, Pb::new().str(1, api_version).str(2, kind))
        .msg(2, object);
    [b"k8s\0".as_slice(), &unknown.0].concat()
}

/// The Deployment `kubectl create deployment web --image=nginx:1.27 --replicas=0`
/// sends: Go's value-typed fields present even when empty (left out of the JSON, as
/// Go's JSON leaves them out), the zero creationTimestamp as an empty message, an
/// explicit zero replica count (a pointer in Go: kept).
fn deployment() -> Pb {
    let labels = |m: Pb| m.entry(11, "app", "web");
    Pb::new()
        .msg(
            1,
            labels(
                Pb::new()
                    .str(1, "web")
                    .str(3, "")
                    .int(7, 0)
                    .msg(8, Pb::new()),
            ),
        )
        .msg(
            2,
            Pb::new()
                .int(1, 0)
                .msg(2, Pb::new().entry(1, "app", "web"))
                .msg(
                    3,
                    Pb::new()
                        .msg(1, labels(Pb::new().int(7, 0).msg(8, Pb::new())))
                        .msg(
                            2,
                            Pb::new().msg(
                                2,
                                Pb::new()
                                    .str(1, "nginx")
                                    .str(2, "nginx:1.27")
                                    .msg(8, Pb::new())
                                    .str(14, ""),
                            ),
                        ),
                )
                .msg(
                    4,
                    Pb::new().msg(
                        2,
                        Pb::new()
                            .msg(1, Pb::new().int(1, 0).int(2, 1))
                            .msg(2, Pb::new().int(1, 1).str(3, "25%")),
                    ),
                ),
        )
        .msg(3, Pb::new())
}

#[test]
fn a_deployment_decodes_to_its_json_form() {
    let value = decode(&body("apps/v1", "Deployment", deployment())).expect("decodes");
    assert_eq!(
        value,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [
                        {"name": "nginx", "image": "nginx:1.27", "resources": {}}
                    ]}
                },
                "strategy": {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}}
            },
            "status": {}
        })
    );
    // And the typed decoder takes it as it takes the same JSON.
    let (object, warnings) =
        crate::api::decode::decode_value_as(&crate::api::object::DEPLOYMENT, value, false)
            .expect("a valid Deployment");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(object.metadata().name, "web");
}

#[test]
fn apimachinery_types_take_their_json_forms() {
    // Time and MicroTime: RFC 3339; Quantity: its string; bytes: base64; an inlined
    // volume source merged into the Volume; packed and unpacked repeated scalars;
    // negative integers, sign-extended to ten bytes on the wire.
    let pod = Pb::new()
        .msg(
            1,
            Pb::new()
                .str(1, "p")
                .msg(8, Pb::new().int(1, 1_700_000_000)),
        )
        .msg(
            2,
            Pb::new()
                .msg(
                    1,
                    Pb::new().str(1, "scratch").msg(
                        2,
                        Pb::new().msg(
                            2,
                            Pb::new().str(1, "Memory").msg(2, Pb::new().str(1, "64Mi")),
                        ),
                    ),
                )
                .msg(
                    2,
                    Pb::new().str(1, "c").msg(
                        8,
                        Pb::new()
                            .msg(1, Pb::new().str(1, "cpu").msg(2, Pb::new().str(1, "500m")))
                            .msg(
                                2,
                                Pb::new().str(1, "memory").msg(2, Pb::new().str(1, "1Gi")),
                            ),
                    ),
                )
                .msg(
                    14,
                    Pb::new().int(4, 10).bytes(4, &{
                        let mut packed = Vec::new();
                        varint(&mut packed, 20);
                        varint(&mut packed, 30);
                        packed
                    }),
                )
                .int(4, (-1i64) as u64),
        );
    let value = decode(&body("v1", "Pod", pod)).expect("decodes");
    assert_eq!(
        value["metadata"]["creationTimestamp"],
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(
        value["spec"]["volumes"],
        json!([{"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}])
    );
    assert_eq!(
        value["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "500m"}, "requests": {"memory": "1Gi"}})
    );
    assert_eq!(
        value["spec"]["securityContext"]["supplementalGroups"],
        json!([10, 20, 30])
    );
    assert_eq!(value["spec"]["terminationGracePeriodSeconds"], -1);
    let negative = Pb::new().msg(2, Pb::new().int(1, (-3i64) as u64));
    let value = decode(&body("apps/v1", "Deployment", negative)).expect("decodes");
    assert_eq!(value["spec"]["replicas"], -3);

    let secret = Pb::new()
        .msg(1, Pb::new().str(1, "s"))
        .msg(2, Pb::new().str(1, "key").bytes(2, b"\x00\xffhi"))
        .str(3, "Opaque");
    let value = decode(&body("v1", "Secret", secret)).expect("decodes");
    assert_eq!(value["data"], json!({"key": "AP9oaQ=="}));

    let lease = Pb::new().msg(
        2,
        Pb::new()
            .int(2, 15)
            .msg(4, Pb::new().int(1, 1_700_000_000).int(2, 123_456_789)),
    );
    let value = decode(&body("coordination.k8s.io/v1", "Lease", lease)).expect("decodes");
    assert_eq!(
        value["spec"],
        json!({"leaseDurationSeconds": 15, "renewTime": "2023-11-14T22:13:20.123456Z"})
    );

    let revision = Pb::new()
        .msg(2, Pb::new().str(1, r#"{"spec":{"replicas":3}}"#))
        .int(3, 7);
    let value = decode(&body("apps/v1", "ControllerRevision", revision)).expect("decodes");
    assert_eq!(value["data"], json!({"spec": {"replicas": 3}}));
    assert_eq!(value["revision"], 7);
}

#[test]
fn fields_the_schema_does_not_know_are_skipped() {
    let object = deployment()
        .int(999, 5)
        .str(1000, "future field")
        .fixed(1001, 5, &7u32.to_le_bytes())
        .fixed(1002, 1, &7u64.to_le_bytes());
    let plain = decode(&body("apps/v1", "Deployment", deployment())).expect("plain");
    let extended = decode(&body("apps/v1", "Deployment", object)).expect("extended");
    assert_eq!(plain, extended);
}

#[test]
fn delete_options_decode_wherever_they_are_sent() {
    let opts = Pb::new()
        .int(1, 0)
        .msg(2, Pb::new().str(1, "uid-1"))
        .str(4, "Foreground")
        .str(5, "All");
    let value = decode(&body("v1", "DeleteOptions", opts.clone())).expect("decodes");
    assert_eq!(
        value,
        json!({
            "apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
            "preconditions": {"uid": "uid-1"}, "propagationPolicy": "Foreground",
            "dryRun": ["All"]
        })
    );
    let value = decode(&body("meta.k8s.io/v1", "DeleteOptions", opts)).expect("decodes");
    assert_eq!(value["propagationPolicy"], "Foreground");
}

#[test]
fn bad_bodies_are_errors_that_name_the_problem() {
    let reason = |bytes: &[u8]| decode(bytes).expect_err("must fail").to_string();
    assert!(reason(b"{\"kind\":\"Pod\"}").contains("magic"));
    assert!(reason(&body("v1", "", Pb::new())).contains("no kind"));
    assert!(reason(&body("v1", "Gadget", Pb::new())).contains("Gadget"));
    assert!(reason(&body("example.com/v1", "Widget", Pb::new())).contains("Widget"));

    // A length running past the end, deep inside: the path says where.
    let mut truncated = body("apps/v1", "Deployment", deployment());
    truncated.truncate(truncated.len() - 20);
    let e = decode(&truncated).expect_err("truncated");
    assert!(e.to_string().contains("truncated"), "{e}");

    let bad_utf8 = Pb::new().msg(1, Pb::new().bytes(1, b"\xff\xfe"));
    let e = decode(&body("v1", "ConfigMap", bad_utf8)).expect_err("utf8");
    assert_eq!(e.path, "metadata.name");
    assert!(e.reason.contains("UTF-8"));

    // A string field sent as a varint.
    let wrong = Pb::new().msg(
        2,
        Pb::new().msg(3, Pb::new().msg(2, Pb::new().msg(2, Pb::new().int(1, 7)))),
    );
    let e = decode(&body("apps/v1", "Deployment", wrong)).expect_err("wire type");
    assert_eq!(e.path, "spec.template.spec.containers.name");

    let e = decode(&body("v1", "ConfigMap", Pb(vec![0x00, 0x01]))).expect_err("field 0");
    assert!(e.reason.contains("field number 0"), "{e}");
    let e = decode(&body("v1", "ConfigMap", Pb(vec![0x0b]))).expect_err("group");
    assert!(e.reason.contains("wire type 3"), "{e}");
    let e = decode(&body(
        "v1",
        "ConfigMap",
        Pb([[0x08].as_slice(), &[0xff; 11]].concat()),
    ))
    .expect_err("varint");
    assert!(e.reason.contains("varint"), "{e}");

    let year_10000 = Pb::new().msg(1, Pb::new().msg(8, Pb::new().int(1, 253_402_300_800)));
    let e = decode(&body("v1", "ConfigMap", year_10000)).expect_err("time");
    assert!(e.reason.contains("out of range"), "{e}");

    let not_json = Pb::new().msg(2, Pb::new().str(1, "{not json"));
    let e = decode(&body("apps/v1", "ControllerRevision", not_json)).expect_err("raw");
    assert_eq!(e.path, "data");
}

/// Every prefix and thousands of seeded corruptions of a real body decode to a value
/// or an error, never a panic.
#[test]
fn corrupted_bodies_never_panic() {
    let good = body("apps/v1", "Deployment", deployment());
    for len in 0..good.len() {
        let _ = decode(&good[..len]);
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut failures = 0;
    for _ in 0..5_000 {
        let mut bytes = good.clone();
        for _ in 0..=(next() % 4) {
            let at = 4 + (next() as usize) % (bytes.len() - 4);
            bytes[at] = next() as u8;
        }
        failures += usize::from(decode(&bytes).is_err());
    }
    // Most corruptions are caught; some land in string contents and still decode.
    assert!(
        failures > 1_000,
        "only {failures} of 5000 corruptions were rejected"
    );
}

/// The generated table is sorted (lookups binary-search it) and every message a
/// field names is in it.
#[test]
fn the_schema_is_sorted_and_closed() {
    let names: Vec<&str> = schema::MESSAGES.iter().map(|m| m.name).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "schema not sorted");
    for m in schema::MESSAGES {
        for f in m.fields {
            let tys = match f.label {
                Label::Map(key) => vec![key, f.ty],
                _ => vec![f.ty],
            };
            for ty in tys {
                if let Ty::Msg(name) = ty {
                    assert!(lookup(name).is_some(), "{}.{} names {name}", m.name, f.json);
                }
            }
        }
    }
    let served = crate::api::object::RESOURCES
        .iter()
        .chain(crate::api::convert::ALTERNATE_VERSIONS.iter());
    for info in served {
        let name = message_name(&info.api_version(), info.kind).expect("a package");
        assert!(lookup(&name).is_some(), "no message for {}", info.kind);
    }
}
