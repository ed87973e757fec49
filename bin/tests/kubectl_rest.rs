//! The machine's `kubectl` (v1.32) against a real `hive server --bootstrap`, through
//! the kubeconfig the server writes: the REST edge as users meet it.
//!
//! One server process serves every step, in order, and each step's output is
//! asserted, not only its exit code. Bad requests are sent with `curl` to check the
//! exact HTTP codes and `Status` bodies, and a normal request must still succeed
//! after them. The server is killed when the test ends, pass or fail; a failure
//! prints the tail of its log.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Bound on any one wait of this test.
const LONG: Duration = Duration::from_secs(60);

/// A `hive server --bootstrap` process with its REST API and kubeconfig.
struct Server {
    dir: tempfile::TempDir,
    child: Child,
    kubeconfig: PathBuf,
    api: String,
    log: PathBuf,
    /// The member's QUIC address (its store API).
    listen: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- server log (last 40 lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Server {
    /// Starts the server and waits for its ready line and its REST line.
    fn start() -> Server {
        Server::start_with(&[])
    }

    /// [`Server::start`] with extra `hive server` flags.
    fn start_with(extra: &[&str]) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("hive-kubectl-test")
            .tempdir()
            .expect("tempdir");
        let log = dir.path().join("server.log");
        let listen = format!("127.0.0.1:{}", free_udp_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_hive"))
            .args(["server", "--name", "m1", "--node-id", "1", "--bootstrap"])
            .args(["--listen", &listen, "--api-listen", "127.0.0.1:0"])
            .args(extra)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("HIVE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("hive server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let next = || {
            rx.recv_timeout(LONG)
                .expect("the server prints its lines in time")
                .expect("reading the server's stdout")
        };
        let ready = next();
        assert_eq!(ready, format!("hive server m1 listening on {listen}"));
        let rest = next();
        let (api, kubeconfig) = rest
            .strip_prefix("hive server m1 REST API on ")
            .and_then(|r| r.split_once(", kubeconfig "))
            .unwrap_or_else(|| panic!("unexpected REST line {rest:?}"));
        Server {
            kubeconfig: PathBuf::from(kubeconfig),
            api: api.to_owned(),
            dir,
            child,
            log,
            listen,
        }
    }

    fn kubectl_output(&self, args: &[&str], env: &[(&str, &Path)]) -> Output {
        let mut cmd = Command::new("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("kubectl runs")
    }

    /// Runs kubectl, asserts it succeeded, and returns its stdout.
    fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_output(args, &[]);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl, asserts it failed, and returns its stderr.
    fn kubectl_fails(&self, args: &[&str]) -> String {
        let out = self.kubectl_output(args, &[]);
        assert!(!out.status.success(), "kubectl {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `kubectl get <what> -n <ns> -o jsonpath=<path>` (`what` as kubectl takes it:
    /// `deploy/api`, `hpa`, ...; an empty `ns` for cluster scope).
    fn jsonpath(&self, what: &str, ns: &str, path: &str) -> String {
        let mut args = vec!["get", what];
        if !ns.is_empty() {
            args.extend(["-n", ns]);
        }
        let output = format!("jsonpath={path}");
        args.extend(["-o", output.as_str()]);
        self.kubectl(&args)
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("data/rest/admin-token"))
            .expect("the admin token")
            .trim()
            .to_owned()
    }

    /// `curl` to the API: returns the HTTP code and the body as JSON.
    fn curl(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Option<&[u8]>,
    ) -> (u16, serde_json::Value) {
        let body_file = self.dir.path().join("curl-body");
        let out_file = self.dir.path().join("curl-out");
        let mut cmd = Command::new("curl");
        cmd.args(["-sk", "-X", method, "-o"]).arg(&out_file).args([
            "-w",
            "%{http_code}",
            "-H",
            &format!("Content-Type: {content_type}"),
        ]);
        if let Some(t) = token {
            cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
        }
        if let Some(b) = body {
            std::fs::write(&body_file, b).expect("body file");
            cmd.arg("--data-binary")
                .arg(format!("@{}", body_file.display()));
        }
        cmd.arg(format!("{}{path}", self.api));
        let out = cmd.output().expect("curl runs");
        let code = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        let text = std::fs::read(&out_file).unwrap_or_default();
        let json = serde_json::from_slice(&text).unwrap_or(serde_json::Value::Null);
        (code, json)
    }

    /// `curl` with the admin token: the HTTP code, the response headers (lowercased
    /// names) and the body as JSON.
    fn curl_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        tag: &str,
    ) -> (u16, String, serde_json::Value) {
        let body_file = self.dir.path().join(format!("curl-body-{tag}"));
        let out_file = self.dir.path().join(format!("curl-out-{tag}"));
        let head_file = self.dir.path().join(format!("curl-head-{tag}"));
        let mut cmd = Command::new("curl");
        cmd.args(["-sk", "-X", method, "-o"])
            .arg(&out_file)
            .arg("-D")
            .arg(&head_file)
            .args(["-w", "%{http_code}", "-H", "Content-Type: application/json"])
            .args(["-H", &format!("Authorization: Bearer {}", self.token())]);
        if let Some(b) = body {
            std::fs::write(&body_file, b).expect("body file");
            cmd.arg("--data-binary")
                .arg(format!("@{}", body_file.display()));
        }
        cmd.arg(format!("{}{path}", self.api));
        let out = cmd.output().expect("curl runs");
        let code = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        let headers = std::fs::read_to_string(&head_file)
            .unwrap_or_default()
            .to_lowercase();
        let text = std::fs::read(&out_file).unwrap_or_default();
        let json = serde_json::from_slice(&text).unwrap_or(serde_json::Value::Null);
        (code, headers, json)
    }

    /// A streaming GET (a watch) with `curl -N`: its lines as they arrive.
    fn stream(&self, path: &str) -> Stream {
        let mut child = Command::new("curl")
            .args(["-sk", "-N", "-H"])
            .arg(format!("Authorization: Bearer {}", self.token()))
            .arg(format!("{}{path}", self.api))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("curl runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Stream { child, rx }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }
}

/// A watch read line by line.
struct Stream {
    child: Child,
    rx: mpsc::Receiver<String>,
}

impl Stream {
    /// The next line as JSON, within [`LONG`].
    fn next(&self) -> serde_json::Value {
        let line = self
            .rx
            .recv_timeout(LONG)
            .expect("the watch sends a line in time");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// The next raw line that is not a bookmark.
    fn next_event_line(&self) -> String {
        loop {
            let line = self
                .rx
                .recv_timeout(LONG)
                .expect("the watch sends a line in time");
            if !line.contains("\"type\":\"BOOKMARK\"") {
                return line;
            }
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const MANIFEST: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: shop
data:
  greeting: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
  namespace: shop
data:
  password: czNjcmV0
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.26
        ports:
        - containerPort: 80
        env:
        - name: MODE
          value: prod
      - name: sidecar
        image: busybox:1.36
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
"#;

fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

/// Polls `f` until it returns true or [`LONG`] passes.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + LONG;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// kubectl applies, re-applies (strategic merge patch), reads in every output
/// format, describes, scales, labels, annotates, edits and deletes a small
/// application through the server's own kubeconfig, a watch prints changes as they
/// happen, and explain reads the kinds' schemas.
#[test]
fn kubectl_drives_an_application_through_its_whole_life() {
    let s = Server::start();
    let manifest = s.write("app.yaml", MANIFEST);
    let manifest = manifest.to_str().expect("utf-8 path");

    let out = s.kubectl(&["version"]);
    assert!(out.contains("Server Version: v1.32"), "{out}");

    // kubectl explain reads the kinds' schemas from /openapi/v3.
    let explained = s.kubectl(&["explain", "deployment.spec"]);
    for needle in [
        "KIND:       Deployment",
        "VERSION:    v1",
        "FIELD: spec <DeploymentSpec>",
        "replicas\t<integer>",
        "template\t<PodTemplateSpec> -required-",
    ] {
        assert!(
            explained.contains(needle),
            "explain lacks {needle:?}: {explained}"
        );
    }

    let out = s.kubectl(&["apply", "-f", manifest]);
    for line in [
        "namespace/shop created",
        "configmap/web-config created",
        "secret/web-secret created",
        "deployment.apps/web created",
        "service/web created",
    ] {
        assert!(out.contains(line), "apply printed {out:?}, not {line:?}");
    }

    // Re-apply with a changed image and an added env var: a strategic merge patch
    // that must keep the other container and the existing env var.
    let changed = MANIFEST.replace("nginx:1.26", "nginx:1.27").replace(
        "          value: prod\n",
        "          value: prod\n        - name: LEVEL\n          value: debug\n",
    );
    let changed_path = s.write("app2.yaml", &changed);
    let out = s.kubectl(&["apply", "-f", changed_path.to_str().expect("utf-8")]);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert!(out.contains("configmap/web-config unchanged"), "{out}");
    let spec = s.jsonpath("deploy/web", "shop", "{.spec.template.spec.containers[*].image}|{.spec.template.spec.containers[0].env[*].name}|{.metadata.generation}");
    assert_eq!(spec, "nginx:1.27 busybox:1.36|MODE LEVEL|2");

    let out = s.kubectl(&["get", "pods,deploy,svc", "-A"]);
    let deploy = lines_with(&out, "deployment.apps/web");
    assert_eq!(deploy.len(), 1, "{out}");
    let cells: Vec<&str> = deploy[0].split_whitespace().collect();
    assert_eq!(
        &cells[..5],
        ["shop", "deployment.apps/web", "0/2", "0", "0"],
        "{out}"
    );
    assert!(out.contains("NAMESPACE   NAME"), "{out}");
    let svc = lines_with(&out, "service/web");
    assert_eq!(svc.len(), 1, "{out}");
    assert!(
        svc[0].contains("ClusterIP") && svc[0].contains("80/TCP"),
        "{out}"
    );

    let yaml = s.kubectl(&["get", "deploy", "web", "-n", "shop", "-o", "yaml"]);
    assert!(yaml.contains("kind: Deployment"), "{yaml}");
    assert!(yaml.contains("image: nginx:1.27"), "{yaml}");
    assert!(
        yaml.contains("kubectl.kubernetes.io/last-applied-configuration"),
        "{yaml}"
    );
    assert!(yaml.contains("uid: "), "{yaml}");

    let wide = s.kubectl(&["get", "deploy", "-n", "shop", "-o", "wide"]);
    let header: Vec<&str> = wide
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert!(
        wide.contains("nginx,sidecar") && wide.contains("app=web"),
        "{wide}"
    );

    let selected = s.kubectl(&["get", "svc,cm", "-n", "shop", "-l", "app=web", "-o", "name"]);
    assert_eq!(selected.trim(), "service/web");
    let none = s.kubectl_output(&["get", "deploy", "-n", "shop", "-l", "app=other"], &[]);
    assert!(String::from_utf8_lossy(&none.stderr).contains("No resources found in shop namespace."));

    let described = s.kubectl(&["describe", "deployment", "web", "-n", "shop"]);
    for needle in [
        "Name:                   web",
        "Namespace:              shop",
        "Image:",
        "nginx:1.27",
        "LEVEL:",
        "debug",
        "Selector:               app=web",
    ] {
        assert!(
            described.contains(needle),
            "describe lacks {needle:?}: {described}"
        );
    }

    assert!(s
        .kubectl(&["scale", "deploy/web", "-n", "shop", "--replicas=5"])
        .contains("deployment.apps/web scaled"));
    assert!(s
        .kubectl(&["label", "deploy", "web", "-n", "shop", "tier=fe"])
        .contains("deployment.apps/web labeled"));
    assert!(s
        .kubectl(&["annotate", "deploy", "web", "-n", "shop", "owner=team-a"])
        .contains("deployment.apps/web annotated"));
    let meta = s.jsonpath(
        "deploy/web",
        "shop",
        "{.spec.replicas}|{.metadata.labels.tier}|{.metadata.annotations.owner}",
    );
    assert_eq!(meta, "5|fe|team-a");

    // kubectl edit with an editor that changes replicas in the file it is given.
    let editor = s.write(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/replicas: 5/replicas: 3/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let out = s.kubectl_output(
        &["edit", "deploy/web", "-n", "shop"],
        &[("EDITOR", &editor)],
    );
    assert!(
        out.status.success(),
        "edit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("deployment.apps/web edited"));
    assert_eq!(s.jsonpath("deploy/web", "shop", "{.spec.replicas}"), "3");

    // A watch prints a ConfigMap created and then deleted while it runs.
    let mut watch = Command::new("kubectl")
        .args(["get", "configmaps", "-n", "shop", "-w"])
        .env("KUBECONFIG", &s.kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let stdout = watch.stdout.take().expect("watch stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen: Vec<String> = Vec::new();
    let wait_line = |seen: &mut Vec<String>, needle: &str| {
        let deadline = Instant::now() + LONG;
        while !seen.iter().any(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("the watch never printed {needle:?}; printed {seen:?}"),
            }
        }
    };
    wait_line(&mut seen, "web-config");
    let late = s.write(
        "late.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: late\n  namespace: shop\ndata:\n  a: b\n",
    );
    s.kubectl(&["create", "-f", late.to_str().expect("utf-8")]);
    wait_line(&mut seen, "late");
    let late_rows = seen.iter().filter(|l| l.starts_with("late ")).count();
    s.kubectl(&["delete", "configmap", "late", "-n", "shop"]);
    wait_for("the deletion to be printed", || {
        while let Ok(line) = rx.try_recv() {
            seen.push(line);
        }
        seen.iter().filter(|l| l.starts_with("late ")).count() > late_rows
    });
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(
        seen.first()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["NAME", "DATA", "AGE"])
    );

    let out = s.kubectl(&["delete", "-f", manifest]);
    for line in [
        "configmap \"web-config\" deleted",
        "secret \"web-secret\" deleted",
        "deployment.apps \"web\" deleted",
        "service \"web\" deleted",
    ] {
        assert!(out.contains(line), "delete printed {out:?}, not {line:?}");
    }
    let err = s.kubectl_fails(&["get", "deploy", "web", "-n", "shop"]);
    assert!(err.contains("Error from server (NotFound)"), "{err}");
}

/// Bad requests get Kubernetes' codes and Status bodies, and the server keeps
/// serving: undecodable JSON, a YAML bomb, invalid names, a body over 3 MiB, a
/// stale resourceVersion, unknown resources, and missing or wrong credentials.
#[test]
fn bad_requests_get_status_errors_and_the_server_keeps_serving() {
    let s = Server::start();
    let token = s.token();
    let t = Some(token.as_str());
    let cms = "/api/v1/namespaces/default/configmaps";
    let json = "application/json";
    let ns = br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}"#;
    assert_eq!(
        s.curl("POST", "/api/v1/namespaces", t, json, Some(ns)).0,
        201
    );

    let check = |(code, body): (u16, serde_json::Value), want: u16, reason: &str| {
        assert_eq!(code, want, "{body}");
        assert_eq!(body["kind"], "Status", "{body}");
        assert_eq!(body["code"], want, "{body}");
        assert_eq!(body["reason"], reason, "{body}");
    };

    check(
        s.curl("GET", "/api/v1/namespaces", None, json, None),
        401,
        "Unauthorized",
    );
    check(
        s.curl("GET", "/api/v1/namespaces", Some("wrong"), json, None),
        401,
        "Unauthorized",
    );
    // kubectl words a 401 by whether it had discovery cached; both start the same.
    let err = s.kubectl_fails(&["--token", "wrong", "get", "ns"]);
    assert!(err.contains("You must be logged in to the server"), "{err}");

    check(
        s.curl(
            "POST",
            cms,
            t,
            json,
            Some(b"{\"apiVersion\": \"v1\", \"kind\": "),
        ),
        400,
        "BadRequest",
    );
    let bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    check(
        s.curl("POST", cms, t, "application/yaml", Some(bomb.as_bytes())),
        400,
        "BadRequest",
    );
    let (code, body) = s.curl(
        "POST",
        cms,
        t,
        json,
        Some(br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#),
    );
    check((code, body.clone()), 422, "Invalid");
    assert_eq!(
        body["details"]["causes"][0]["field"], "metadata.name",
        "{body}"
    );
    let big = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"k":"{}"}}}}"#,
        "x".repeat(3 * 1024 * 1024)
    );
    assert!(big.len() > 3 * 1024 * 1024);
    check(
        s.curl("POST", cms, t, json, Some(big.as_bytes())),
        413,
        "RequestEntityTooLarge",
    );
    check(
        s.curl("GET", "/api/v1/widgets", t, json, None),
        404,
        "NotFound",
    );
    check(
        s.curl(
            "GET",
            "/apis/apps/v1/namespaces/default/deployments/nope",
            t,
            json,
            None,
        ),
        404,
        "NotFound",
    );
    let err = s.kubectl_fails(&["get", "widgets"]);
    assert!(
        err.contains("the server doesn't have a resource type \"widgets\""),
        "{err}"
    );

    // Create, then update with a stale resourceVersion: 409 Conflict.
    let (code, created) = s.curl(
        "POST",
        cms,
        t,
        json,
        Some(
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1"},"data":{"a":"1"}}"#,
        ),
    );
    assert_eq!(code, 201, "{created}");
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let (code, _) = s.curl("PUT", &format!("{cms}/c1"), t, json, Some(format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c1","resourceVersion":"{rv}"}},"data":{{"a":"2"}}}}"#).as_bytes()));
    assert_eq!(code, 200);
    check(s.curl("PUT", &format!("{cms}/c1"), t, json, Some(format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c1","resourceVersion":"{rv}"}},"data":{{"a":"3"}}}}"#).as_bytes())), 409, "Conflict");
    // A patch naming a resourceVersion makes it a precondition, whichever kind of
    // patch and whether storage or the edge applies it.
    let stale = format!(r#"{{"metadata":{{"resourceVersion":"{rv}"}},"data":{{"a":"3"}}}}"#);
    for (media, query) in [
        ("application/merge-patch+json", ""),
        ("application/merge-patch+json", "?fieldManager=tester"),
        ("application/strategic-merge-patch+json", ""),
    ] {
        let path = format!("{cms}/c1{query}");
        check(
            s.curl("PATCH", &path, t, media, Some(stale.as_bytes())),
            409,
            "Conflict",
        );
    }
    check(
        s.curl(
            "POST",
            cms,
            t,
            json,
            Some(br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1"}}"#),
        ),
        409,
        "AlreadyExists",
    );

    // After all that, a normal request still works.
    let (code, list) = s.curl("GET", cms, t, json, None);
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["kind"], "ConfigMapList");
    assert_eq!(list["items"][0]["data"]["a"], "2");
    let out = s.jsonpath("cm/c1", "", "{.data.a}");
    assert_eq!(out, "2");
}

/// Whether `python` runs and can import the Kubernetes client.
fn has_kubernetes_client(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import kubernetes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The official Python client (`pip install kubernetes`, in a venv this test makes
/// and keeps under the target directory) lists, creates, patches, replaces, deletes
/// and watches pods and deployments, and resumes a watch from a resourceVersion
/// after the server ended the stream (tests/python/kube_client_check.py). Skipped,
/// saying so, only when pip cannot reach PyPI.
#[test]
fn the_official_python_client_works_against_hive() {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kube-python-venv");
    let python = venv.join("bin/python");
    if !has_kubernetes_client(&python) {
        let _ = std::fs::remove_dir_all(&venv);
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .expect("python3 runs");
        assert!(
            made.status.success(),
            "python3 -m venv failed (is python3-venv installed? .ci/setup.sh installs it): {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let pip = Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "kubernetes",
            ])
            .output()
            .expect("pip runs");
        if !pip.status.success() {
            let err = String::from_utf8_lossy(&pip.stderr);
            let offline = [
                "Failed to establish a new connection",
                "Temporary failure in name resolution",
                "Network is unreachable",
                "No matching distribution found",
                "Could not find a version",
            ]
            .iter()
            .any(|s| err.contains(s));
            assert!(offline, "pip install kubernetes failed: {err}");
            eprintln!("SKIPPED: pip cannot reach PyPI to install the kubernetes client:\n{err}");
            let _ = std::fs::remove_dir_all(&venv);
            return;
        }
    }
    let s = Server::start();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/python/kube_client_check.py"
    );
    let out = Command::new(&python)
        .arg(script)
        .env("KUBECONFIG", &s.kubeconfig)
        .output()
        .expect("the python check runs");
    assert!(
        out.status.success(),
        "python client check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("python client: ok"));
}

const SSA_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: ssa
  labels:
    app: api
spec:
  replicas: 2
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
      - name: server
        image: nginx:1.26
        env:
        - name: MODE
          value: prod
        - name: LEVEL
          value: debug
"#;

/// `kubectl apply --server-side` creates an object owned by the `kubectl` field
/// manager, a second apply changes a field and drops one it no longer sets, and a
/// different manager changing an owned field gets a 409 conflict naming the owner
/// and the field, unless it passes `--force-conflicts`, which takes the field over.
#[test]
fn kubectl_server_side_apply_tracks_owners_and_conflicts() {
    let s = Server::start();
    let ns = s.write(
        "ssa-ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ssa\n",
    );
    assert!(s
        .kubectl(&["apply", "-f", ns.to_str().expect("utf-8")])
        .contains("namespace/ssa created"));
    let first = s.write("ssa1.yaml", SSA_DEPLOYMENT);
    let out = s.kubectl(&[
        "apply",
        "--server-side",
        "-f",
        first.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.trim(), "deployment.apps/api serverside-applied");
    let got = s.jsonpath("deploy/api", "ssa", "{.spec.replicas}|{.spec.template.spec.containers[0].image}|{.metadata.managedFields[*].manager}|{.metadata.managedFields[*].operation}");
    assert_eq!(got, "2|nginx:1.26|kubectl|Apply");
    let fields = s.jsonpath("deploy/api", "ssa", "{.metadata.managedFields[0].fieldsV1}");
    let fields: serde_json::Value = serde_json::from_str(&fields).expect("FieldsV1 JSON");
    assert_eq!(
        fields["f:spec"]["f:replicas"],
        serde_json::json!({}),
        "{fields}"
    );
    assert!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"server\"}"]
            ["f:env"]["k:{\"name\":\"LEVEL\"}"]
            .is_object(),
        "{fields}"
    );

    // The same manager again: the image changes, LEVEL (no longer applied) goes.
    let second = s.write(
        "ssa2.yaml",
        &SSA_DEPLOYMENT
            .replace("nginx:1.26", "nginx:1.27")
            .replace("        - name: LEVEL\n          value: debug\n", ""),
    );
    let out = s.kubectl(&[
        "apply",
        "--server-side",
        "-f",
        second.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.trim(), "deployment.apps/api serverside-applied");
    let got = s.jsonpath("deploy/api", "ssa", "{.spec.template.spec.containers[0].image}|{.spec.template.spec.containers[0].env[*].name}|{.metadata.generation}");
    assert_eq!(got, "nginx:1.27|MODE|2");

    // Another manager wants 5 replicas: a conflict with "kubectl" over .spec.replicas.
    let scaler = s.write(
        "ssa3.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: ssa\nspec:\n  replicas: 5\n",
    );
    let scaler = scaler.to_str().expect("utf-8");
    let err = s.kubectl_fails(&[
        "apply",
        "--server-side",
        "--field-manager=scaler",
        "-f",
        scaler,
    ]);
    assert!(
        err.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"),
        "{err}"
    );
    assert_eq!(s.jsonpath("deploy/api", "ssa", "{.spec.replicas}"), "2");
    // The same conflict over plain HTTP is a 409 Status with a FieldManagerConflict cause.
    let (code, _, body) = s.curl_with_headers(
        "PATCH",
        "/apis/apps/v1/namespaces/ssa/deployments/api?fieldManager=scaler",
        Some(br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"ssa"},"spec":{"replicas":5}}"#),
        "ssa-conflict",
    );
    // curl sent JSON; apply needs its own media type, so ask again with it.
    assert_eq!(code, 415, "{body}");
    let out = Command::new("curl")
        .args(["-sk", "-X", "PATCH", "-H", "Content-Type: application/apply-patch+yaml"])
        .args(["-H", &format!("Authorization: Bearer {}", s.token())])
        .args(["--data-binary", "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"api\",\"namespace\":\"ssa\"},\"spec\":{\"replicas\":5}}"])
        .arg(format!("{}/apis/apps/v1/namespaces/ssa/deployments/api?fieldManager=scaler", s.api))
        .output()
        .expect("curl runs");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a Status");
    assert_eq!(body["code"], 409, "{body}");
    assert_eq!(body["reason"], "Conflict", "{body}");
    assert_eq!(
        body["details"]["causes"][0]["reason"], "FieldManagerConflict",
        "{body}"
    );
    assert_eq!(
        body["details"]["causes"][0]["field"], ".spec.replicas",
        "{body}"
    );

    let out = s.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=scaler",
        "--force-conflicts",
        "-f",
        scaler,
    ]);
    assert_eq!(out.trim(), "deployment.apps/api serverside-applied");
    let got = s.jsonpath("deploy/api", "ssa", "{.spec.replicas}|{.spec.template.spec.containers[0].image}|{.metadata.managedFields[*].manager}");
    assert_eq!(got, "5|nginx:1.27|kubectl scaler");

    // kubectl edit (an Update by "kubectl-edit") takes replicas from the applier,
    // whose next apply then conflicts with it, worded as Kubernetes words it.
    let editor = s.write(
        "ssa-editor.sh",
        "#!/bin/sh\nsed -i 's/replicas: 5/replicas: 6/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let out = s.kubectl_output(&["edit", "deploy/api", "-n", "ssa"], &[("EDITOR", &editor)]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("deployment.apps/api edited"),
        "edit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = s.jsonpath("deploy/api", "ssa", "{.spec.replicas}|{.metadata.managedFields[*].manager}|{.metadata.managedFields[*].operation}");
    // "scaler" owned nothing else, so it is gone, as Kubernetes drops empty entries.
    assert_eq!(got, "6|kubectl kubectl-edit|Apply Update");
    let err = s.kubectl_fails(&[
        "apply",
        "--server-side",
        "--field-manager=scaler",
        "-f",
        scaler,
    ]);
    assert!(
        err.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas"
        ),
        "{err}"
    );

    // kubectl label is a merge patch by "kubectl-label": it owns the label it changed,
    // so the applier now conflicts with both managers.
    assert!(s
        .kubectl(&[
            "label",
            "deploy",
            "api",
            "-n",
            "ssa",
            "app=other",
            "--overwrite"
        ])
        .contains("deployment.apps/api labeled"));
    let err = s.kubectl_fails(&[
        "apply",
        "--server-side",
        "-f",
        second.to_str().expect("utf-8"),
    ]);
    assert!(
        err.contains(
            "Apply failed with 2 conflicts: conflicts with \"kubectl-edit\" using apps/v1:\n- .spec.replicas\nconflicts with \"kubectl-label\" using apps/v1:\n- .metadata.labels.app"
        ),
        "{err}"
    );
}

/// A watch (and an exact list) from a resourceVersion the store has compacted
/// away is answered 410 Expired, as Kubernetes answers it: the watch with 200 and
/// one ERROR event carrying the Status, the list with HTTP 410; a watch from a
/// current resourceVersion still works.
#[test]
fn a_compacted_resource_version_is_gone_for_watch_and_list() {
    let s = Server::start();
    let cms = "/api/v1/namespaces/default/configmaps";
    let (code, _, _) = s.curl_with_headers(
        "POST",
        "/api/v1/namespaces",
        Some(br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}"#),
        "ns",
    );
    assert_eq!(code, 201);
    let (code, _, created) = s.curl_with_headers(
        "POST",
        cms,
        Some(
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1"},"data":{"n":"0"}}"#,
        ),
        "c1",
    );
    assert_eq!(code, 201, "{created}");
    let old: u64 = created["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("a resourceVersion");
    let mut latest = old;
    for n in 1..=3 {
        let body = format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c1"}},"data":{{"n":"{n}"}}}}"#
        );
        let (code, _, updated) =
            s.curl_with_headers("PUT", &format!("{cms}/c1"), Some(body.as_bytes()), "upd");
        assert_eq!(code, 200, "{updated}");
        latest = updated["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("a resourceVersion");
    }
    compact(&s, latest);

    let watch = s.stream(&format!(
        "{cms}?watch=1&resourceVersion={old}&timeoutSeconds=10"
    ));
    let event = watch.next();
    assert_eq!(event["type"], "ERROR", "{event}");
    assert_eq!(event["object"]["kind"], "Status", "{event}");
    assert_eq!(event["object"]["code"], 410, "{event}");
    assert_eq!(event["object"]["reason"], "Expired", "{event}");
    assert!(
        event["object"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too old resource version")),
        "{event}"
    );
    let (code, _, body) = s.curl_with_headers(
        "GET",
        &format!("{cms}?resourceVersion={old}&resourceVersionMatch=Exact"),
        None,
        "list-old",
    );
    assert_eq!(code, 410, "{body}");
    assert_eq!(body["reason"], "Expired", "{body}");
    assert_eq!(body["kind"], "Status", "{body}");

    // From the compaction point on, watching works.
    let live = s.stream(&format!(
        "{cms}?watch=1&resourceVersion={latest}&timeoutSeconds=30"
    ));
    let (code, _, _) = s.curl_with_headers(
        "POST",
        cms,
        Some(br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c2"}}"#),
        "c2",
    );
    assert_eq!(code, 201);
    let line: serde_json::Value =
        serde_json::from_str(&live.next_event_line()).expect("JSON event");
    assert_eq!(line["type"], "ADDED", "{line}");
    assert_eq!(line["object"]["metadata"]["name"], "c2", "{line}");
}

/// Compacts the server's store at `revision` through its QUIC store API, as a
/// member of the cluster (a certificate from the server's CA).
fn compact(s: &Server, revision: u64) {
    use hive_raftstore::remote::{RemoteOptions, RemoteStore};
    use hive_transport::{ClusterCa, EndpointConfig, MemberName, Role};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let ca = ClusterCa::load(&s.dir.path().join("data/ca")).expect("the server's CA");
        let identity = ca
            .issue(&MemberName::new("compactor").expect("name"), Role::Member)
            .expect("a client certificate");
        let member = format!("quic://m1@{}", s.listen).parse().expect("address");
        let store = RemoteStore::connect(
            &identity,
            EndpointConfig::default(),
            [member],
            RemoteOptions::default(),
        )
        .expect("a store client");
        store
            .compact(hive_raftstore::Revision(revision))
            .await
            .expect("the store compacts");
    });
}

/// With small in-flight limits, a burst of concurrent writes gets some 429
/// TooManyRequests answers, each a Status with `Retry-After`, and none is lost or
/// half done: every write answered 201 is stored, and afterwards a normal request
/// succeeds.
#[test]
fn overload_is_answered_429_with_retry_after() {
    let s = Server::start_with(&[
        "--max-requests-inflight",
        "1",
        "--max-mutating-requests-inflight",
        "1",
    ]);
    let (code, _, _) = s.curl_with_headers(
        "POST",
        "/api/v1/namespaces",
        Some(br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"busy"}}"#),
        "ns",
    );
    assert_eq!(code, 201);
    let cms = "/api/v1/namespaces/busy/configmaps";
    let mut created = Vec::new();
    let mut refused = 0;
    for round in 0..5 {
        let results: Vec<(String, u16, String, serde_json::Value)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..24)
                .map(|i| {
                    let s = &s;
                    scope.spawn(move || {
                        let name = format!("c-{round}-{i}");
                        let body = format!(
                            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}},"data":{{"k":"{}"}}}}"#,
                            "v".repeat(20_000)
                        );
                        let (code, headers, json) = s.curl_with_headers(
                            "POST",
                            cms,
                            Some(body.as_bytes()),
                            &name,
                        );
                        (name, code, headers, json)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a curl thread"))
                .collect()
        });
        for (name, code, headers, json) in results {
            match code {
                201 => created.push(name),
                429 => {
                    refused += 1;
                    assert_eq!(json["kind"], "Status", "{json}");
                    assert_eq!(json["code"], 429, "{json}");
                    assert_eq!(json["reason"], "TooManyRequests", "{json}");
                    assert_eq!(json["details"]["retryAfterSeconds"], 1, "{json}");
                    assert!(headers.contains("retry-after: 1"), "{headers}");
                }
                other => panic!("{name}: unexpected {other}: {json}"),
            }
        }
        if refused > 0 {
            break;
        }
    }
    assert!(refused > 0, "no request was refused under a limit of 1");
    assert!(!created.is_empty(), "some writes got through");
    // Afterwards a normal request succeeds and every acknowledged write is there.
    let (code, _, list) = s.curl_with_headers("GET", cms, None, "list");
    assert_eq!(code, 200, "{list}");
    let names: Vec<&str> = list["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["metadata"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    for name in &created {
        assert!(
            names.contains(&name.as_str()),
            "{name} was acknowledged but is not stored"
        );
    }
    assert_eq!(
        names.len(),
        created.len(),
        "only acknowledged writes are stored"
    );
}

/// A watch with `sendInitialEvents=true` (as client-go's watch-list sends it) gets
/// an ADDED event per existing object, then the BOOKMARK annotated
/// `k8s.io/initial-events-end`, then live events; two plain watchers of the same
/// resource get byte-identical event lines (encoded once, shared).
#[test]
fn watch_list_streams_initial_events_then_live_shared_lines() {
    let s = Server::start();
    let (code, _, _) = s.curl_with_headers(
        "POST",
        "/api/v1/namespaces",
        Some(br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"wl"}}"#),
        "ns",
    );
    assert_eq!(code, 201);
    let cms = "/api/v1/namespaces/wl/configmaps";
    for name in ["a", "b"] {
        let body =
            format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}}}}"#);
        let (code, _, _) = s.curl_with_headers("POST", cms, Some(body.as_bytes()), name);
        assert_eq!(code, 201);
    }
    // Kubernetes' validation of the parameters.
    let (code, _, body) = s.curl_with_headers(
        "GET",
        &format!("{cms}?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"),
        None,
        "bad",
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("resourceVersionMatch to NotOlderThan")),
        "{body}"
    );

    let wl = s.stream(&format!(
        "{cms}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=60"
    ));
    let mut initial = Vec::new();
    for _ in 0..2 {
        let e = wl.next();
        assert_eq!(e["type"], "ADDED", "{e}");
        initial.push(
            e["object"]["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    assert_eq!(initial, ["a", "b"]);
    let end = wl.next();
    assert_eq!(end["type"], "BOOKMARK", "{end}");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true",
        "{end}"
    );
    let end_rv: u64 = end["object"]["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("the bookmark's resourceVersion");

    let (code, _, list) = s.curl_with_headers("GET", cms, None, "list");
    assert_eq!(code, 200);
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(rv.parse::<u64>().is_ok_and(|r| r >= end_rv), "{list}");
    let one = s.stream(&format!(
        "{cms}?watch=1&resourceVersion={rv}&timeoutSeconds=60"
    ));
    let two = s.stream(&format!(
        "{cms}?watch=1&resourceVersion={rv}&timeoutSeconds=60"
    ));
    let (code, _, _) = s.curl_with_headers(
        "POST",
        cms,
        Some(br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"x":"y"}}"#),
        "c",
    );
    assert_eq!(code, 201);
    let live: serde_json::Value = serde_json::from_str(&wl.next_event_line()).expect("JSON event");
    assert_eq!(live["type"], "ADDED", "{live}");
    assert_eq!(live["object"]["metadata"]["name"], "c", "{live}");
    let l1 = one.next_event_line();
    let l2 = two.next_event_line();
    assert_eq!(l1, l2, "two watchers get the same bytes");
    let e: serde_json::Value = serde_json::from_str(&l1).expect("JSON event");
    assert_eq!(e["type"], "ADDED", "{e}");
    assert_eq!(e["object"]["metadata"]["name"], "c", "{e}");
    assert_eq!(e["object"]["data"]["x"], "y", "{e}");
}

/// A raw HTTPS watch client in Python that does not read (a 4 KiB receive buffer)
/// until `go` exists, then prints every event line until the server ends the
/// chunked stream, then `END`.
const SLOW_WATCHER: &str = r#"
import os, socket, ssl, sys, time
host, port, path, token, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
raw = socket.socket()
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
raw.connect((host, port))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(raw)
s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n" % (path, host, token)).encode())
print("SENT", flush=True)
while not os.path.exists(go):
    time.sleep(0.05)
s.settimeout(60)
buf = b""
def need(n):
    global buf
    while len(buf) < n:
        more = s.recv(65536)
        if not more:
            raise SystemExit("connection closed")
        buf += more
def line():
    global buf
    while b"\r\n" not in buf:
        need(len(buf) + 1)
    i = buf.index(b"\r\n")
    l, buf = buf[:i], buf[i + 2:]
    return l
while line() != b"":
    pass
body = b""
while True:
    size = int(line().split(b";")[0], 16)
    if size == 0:
        break
    need(size + 2)
    body += buf[:size]
    buf = buf[size + 2:]
    while b"\n" in body:
        i = body.index(b"\n")
        print(body[:i].decode(), flush=True)
        body = body[i + 1:]
print("END", flush=True)
"#;

/// A REST watcher too slow to read its events is not buffered without bound: with
/// a ring of 4 events, a client that reads nothing while more 100 KiB events are
/// written than the kernel buffers gets its stream ended (cleanly, long before its timeout) after the last
/// complete event it was sent, and a watch resumed from that event's
/// resourceVersion delivers every later event: nothing is lost.
#[test]
fn a_slow_watcher_is_ended_and_resumes_without_loss() {
    let s = Server::start_with(&["--watch-queue-events", "4"]);
    let (code, _, _) = s.curl_with_headers(
        "POST",
        "/api/v1/namespaces",
        Some(br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"slow"}}"#),
        "ns",
    );
    assert_eq!(code, 201);
    let cms = "/api/v1/namespaces/slow/configmaps";
    let (_, _, list) = s.curl_with_headers("GET", cms, None, "list0");
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let addr = s.api.trim_start_matches("https://").to_owned();
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let go = s.dir.path().join("go");
    let mut slow = Command::new("python3")
        .args(["-c", SLOW_WATCHER, host, port])
        .arg(format!(
            "{cms}?watch=1&resourceVersion={rv}&timeoutSeconds=300"
        ))
        .arg(s.token())
        .arg(&go)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let stdout = slow.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    assert_eq!(rx.recv_timeout(LONG).ok().as_deref(), Some("SENT"));
    let fast = s.stream(&format!(
        "{cms}?watch=1&resourceVersion={rv}&timeoutSeconds=300"
    ));
    // More than the kernel can buffer for the connection (its largest send buffer),
    // so that the server must stop writing to it.
    let wmem_max: usize = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2).and_then(|v| v.parse().ok()))
        .unwrap_or(4 << 20);
    let total = (wmem_max / (100 * 1024) + 30).clamp(60, 400);
    let filler = "x".repeat(100 * 1024);
    for i in 0..total {
        let body = format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c{i:03}"}},"data":{{"k":"{filler}"}}}}"#
        );
        let (code, _, _) = s.curl_with_headers("POST", cms, Some(body.as_bytes()), "c");
        assert_eq!(code, 201, "create c{i:03}");
    }
    // A watcher that reads keeps up and sees everything.
    for i in 0..total {
        let e: serde_json::Value =
            serde_json::from_str(&fast.next_event_line()).expect("JSON event");
        assert_eq!(
            e["object"]["metadata"]["name"],
            format!("c{i:03}"),
            "fast watcher"
        );
    }
    let started = Instant::now();
    std::fs::write(&go, b"go").expect("go file");
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(LONG)
            .unwrap_or_else(|_| panic!("the slow stream never ended; saw {}", seen.len()));
        if line == "END" {
            break;
        }
        let e: serde_json::Value = serde_json::from_str(&line).expect("a complete event");
        assert_eq!(
            e["type"],
            "ADDED",
            "no ERROR event, just the end: {}",
            &line[..100.min(line.len())]
        );
        seen.push((
            e["object"]["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            e["object"]["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        ));
    }
    let _ = slow.wait();
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "ended by the server, not by the timeout"
    );
    assert!(
        seen.len() < total,
        "the slow watcher was cut off, got all {total}"
    );
    for (i, (name, _)) in seen.iter().enumerate() {
        assert_eq!(name, &format!("c{i:03}"), "in order, no gap before the end");
    }
    // Resume from the last event received: the rest arrives, nothing missing.
    let last_rv = seen.last().map(|(_, rv)| rv.clone()).unwrap_or(rv);
    let resumed = s.stream(&format!(
        "{cms}?watch=1&resourceVersion={last_rv}&timeoutSeconds=60"
    ));
    for i in seen.len()..total {
        let e: serde_json::Value =
            serde_json::from_str(&resumed.next_event_line()).expect("JSON event");
        assert_eq!(
            e["object"]["metadata"]["name"],
            format!("c{i:03}"),
            "resumed watcher"
        );
    }
}

/// kubectl's `create` subcommands (typed clientsets) send protobuf bodies: each one
/// works, and the stored objects carry exactly what the flags said.
#[test]
fn kubectl_create_subcommands_send_protobuf_bodies() {
    let s = Server::start();
    let out = s.kubectl_output(&["create", "namespace", "pb", "-v=8"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "namespace/pb created"
    );
    assert!(
        stderr.contains("Content-Type: application/vnd.kubernetes.protobuf"),
        "kubectl no longer sends protobuf; this test would prove nothing: {stderr}"
    );

    let get =
        |kind: &str, name: &str, path: &str| s.jsonpath(&format!("{kind}/{name}"), "pb", path);
    // Each step: the create arguments, kubectl's answer, then (kind, name, jsonpath,
    // what it shows). In order: a later step uses an earlier object.
    struct Step {
        args: &'static [&'static str],
        answer: &'static str,
        check: Option<(&'static str, &'static str, &'static str, &'static str)>,
    }
    let steps = [
        Step {
            args: &["deployment", "web", "--image=nginx:1.27", "--replicas=0", "--port=8080"],
            answer: "deployment.apps/web created",
            check: Some(("deploy", "web", "{.spec.replicas}|{.spec.template.spec.containers[0].image}|{.spec.template.spec.containers[0].ports[0].containerPort}|{.metadata.labels.app}|{.metadata.generation}|{.spec.strategy.rollingUpdate.maxSurge}", "0|nginx:1.27|8080|web|1|25%")),
        },
        Step {
            args: &["configmap", "cfg", "--from-literal=a=1", "--from-literal=b=two"],
            answer: "configmap/cfg created",
            check: Some(("cm", "cfg", "{.data.a}|{.data.b}", "1|two")),
        },
        Step {
            args: &["secret", "generic", "s", "--from-literal=pw=hunter2"],
            answer: "secret/s created",
            check: Some(("secret", "s", "{.type}|{.data.pw}", "Opaque|aHVudGVyMg==")),
        },
        Step {
            args: &["service", "nodeport", "np", "--tcp=80:8080"],
            answer: "service/np created",
            check: Some(("svc", "np", "{.spec.type}|{.spec.ports[0].port}|{.spec.ports[0].targetPort}|{.spec.selector.app}", "NodePort|80|8080|np")),
        },
        Step {
            args: &["cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *", "--", "date"],
            answer: "cronjob.batch/cj created",
            check: Some(("cronjob", "cj", "{.spec.schedule}|{.spec.jobTemplate.spec.template.spec.containers[0].command[0]}", "*/5 * * * *|date")),
        },
        Step {
            args: &["job", "once", "--from=cronjob/cj"],
            answer: "job.batch/once created",
            check: Some(("job", "once", "{.metadata.ownerReferences[0].kind}|{.metadata.ownerReferences[0].name}|{.metadata.annotations.cronjob\\.kubernetes\\.io/instantiate}", "CronJob|cj|manual")),
        },
        Step {
            args: &["ingress", "ing", "--rule=foo.com/bar=np:80"],
            answer: "ingress.networking.k8s.io/ing created",
            check: Some(("ingress", "ing", "{.spec.rules[0].host}|{.spec.rules[0].http.paths[0].path}|{.spec.rules[0].http.paths[0].pathType}|{.spec.rules[0].http.paths[0].backend.service.port.number}", "foo.com|/bar|Exact|80")),
        },
        Step { args: &["serviceaccount", "sa"], answer: "serviceaccount/sa created", check: None },
        Step {
            args: &["role", "reader", "--verb=get,list", "--resource=pods"],
            answer: "role.rbac.authorization.k8s.io/reader created",
            check: Some(("role", "reader", "{.rules[0].verbs}", r#"["get","list"]"#)),
        },
        Step {
            args: &["rolebinding", "rb", "--role=reader", "--serviceaccount=pb:sa"],
            answer: "rolebinding.rbac.authorization.k8s.io/rb created",
            check: Some(("rolebinding", "rb", "{.roleRef.name}|{.subjects[0].kind}|{.subjects[0].name}", "reader|ServiceAccount|sa")),
        },
    ];
    for Step {
        args,
        answer,
        check,
    } in steps
    {
        let mut all = vec!["create", "-n", "pb"];
        all.extend_from_slice(args);
        assert_eq!(s.kubectl(&all).trim(), answer, "kubectl {all:?}");
        if let Some((kind, name, jsonpath, shown)) = check {
            assert_eq!(get(kind, name, jsonpath), shown, "{kind}/{name}");
        }
    }
    // Go's marshaller sends the template's zero generation; Kubernetes' JSON leaves
    // it out and so does Hive.
    let template: serde_json::Value =
        serde_json::from_str(&get("deploy", "web", "{.spec.template.metadata}")).expect("JSON");
    assert_eq!(template, serde_json::json!({"labels": {"app": "web"}}));

    // A server-side dry run decodes, validates and stores nothing.
    let dry = [
        "create",
        "-n",
        "pb",
        "configmap",
        "dry",
        "--from-literal=x=y",
        "--dry-run=server",
    ];
    assert_eq!(
        s.kubectl(&dry).trim(),
        "configmap/dry created (server dry run)"
    );
    assert!(s
        .kubectl_fails(&["get", "cm", "dry", "-n", "pb"])
        .contains("NotFound"));
    // An invalid object is 422 as from JSON.
    assert!(s
        .kubectl_fails(&["create", "deployment", "Bad_Name", "--image=x", "-n", "pb"])
        .contains("Invalid"));

    // A broken protobuf body is a 400 that says what is wrong; the server keeps serving.
    let mut body = b"k8s\0".to_vec();
    body.extend_from_slice(&[0x0a, 0x40, 0x0a, 0x02]);
    let (code, status) = s.curl(
        "POST",
        "/api/v1/namespaces/pb/configmaps",
        Some(&s.token()),
        "application/vnd.kubernetes.protobuf",
        Some(&body),
    );
    assert_eq!(code, 400, "{status}");
    let message = status["message"].as_str().unwrap_or("");
    assert!(
        message.contains("decoding the protobuf body") && message.contains("truncated"),
        "{status}"
    );
    assert!(s.kubectl(&["get", "cm", "-n", "pb"]).contains("cfg"));
}

/// `kubectl autoscale` creates an `autoscaling/v1` autoscaler: Hive stores it as v2
/// and serves it at both versions (get, list, watch, patch, delete), as Kubernetes
/// does.
#[test]
fn kubectl_autoscale_is_served_at_autoscaling_v1_and_v2() {
    let s = Server::start();
    s.kubectl(&["create", "namespace", "hpa"]);
    s.kubectl(&["create", "deployment", "web", "--image=nginx", "-n", "hpa"]);
    let out = s.kubectl(&[
        "autoscale",
        "deployment",
        "web",
        "--min=1",
        "--max=3",
        "--cpu-percent=50",
        "-n",
        "hpa",
    ]);
    assert_eq!(
        out.trim(),
        "horizontalpodautoscaler.autoscaling/web autoscaled"
    );

    // The preferred version, v2: the CPU target became a metric.
    assert_eq!(
        s.jsonpath("hpa/web", "hpa", "{.apiVersion}|{.spec.scaleTargetRef.name}|{.spec.metrics[0].resource.target.averageUtilization}|{.spec.minReplicas}|{.spec.maxReplicas}"),
        "autoscaling/v2|web|50|1|3"
    );
    let table = s.kubectl(&["get", "hpa", "-n", "hpa"]);
    let row = lines_with(&table, "web");
    assert!(
        row.len() == 1
            && row[0].contains("Deployment/web")
            && row[0].contains("cpu: <unknown>/50%"),
        "{table}"
    );

    // v1, as kubectl autoscale wrote it.
    let v1 = "horizontalpodautoscalers.v1.autoscaling";
    let v1_web = format!("{v1}/web");
    assert_eq!(
        s.jsonpath(
            &v1_web,
            "hpa",
            "{.apiVersion}|{.spec.targetCPUUtilizationPercentage}|{.spec.maxReplicas}"
        ),
        "autoscaling/v1|50|3"
    );
    let rv = s.jsonpath(&v1_web, "hpa", "{.metadata.resourceVersion}");
    let watch = s.stream(&format!(
        "/apis/autoscaling/v1/namespaces/hpa/horizontalpodautoscalers?watch=1&resourceVersion={rv}"
    ));
    // A merge patch in v1's terms changes v2's metric.
    s.kubectl(&[
        "patch",
        v1,
        "web",
        "-n",
        "hpa",
        "--type=merge",
        "-p",
        r#"{"spec":{"targetCPUUtilizationPercentage":70}}"#,
    ]);
    assert_eq!(
        s.jsonpath(
            "hpa/web",
            "hpa",
            "{.spec.metrics[0].resource.target.averageUtilization}"
        ),
        "70"
    );
    let event = watch.next();
    assert_eq!(event["type"], "MODIFIED", "{event}");
    assert_eq!(event["object"]["apiVersion"], "autoscaling/v1", "{event}");
    assert_eq!(
        event["object"]["spec"]["targetCPUUtilizationPercentage"], 70,
        "{event}"
    );

    let list = s.jsonpath(v1, "hpa", "{.apiVersion}|{.items[*].apiVersion}");
    assert_eq!(list, "v1|autoscaling/v1");
    assert_eq!(
        s.kubectl(&["delete", v1, "web", "-n", "hpa"]).trim(),
        "horizontalpodautoscaler.autoscaling \"web\" deleted"
    );
    assert!(s
        .kubectl_fails(&["get", "hpa", "web", "-n", "hpa"])
        .contains("NotFound"));
}

/// The edge offers HTTP/2 by ALPN (client-go multiplexes a client's requests and
/// watches over one connection) and still speaks HTTP/1.1 to clients that ask for it;
/// over both, answers given before the body was read (413, 401) arrive whole.
#[test]
fn the_edge_speaks_http2_and_http1_and_answers_early_over_both() {
    let s = Server::start();
    let big = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"a":"{}"}}}}"#,
        "a".repeat(3 * 1024 * 1024)
    );
    let body = s.dir.path().join("big.json");
    std::fs::write(&body, big).expect("body file");
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let curl = |token: &str, path: &str, data: bool| {
            let mut cmd = Command::new("curl");
            cmd.args([
                "-sk",
                flag,
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{http_version}",
            ])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args(["-H", "Content-Type: application/json"]);
            if data {
                cmd.arg("--data-binary").arg(format!("@{}", body.display()));
            }
            let out = cmd
                .arg(format!("{}{path}", s.api))
                .output()
                .expect("curl runs");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let token = s.token();
        assert_eq!(
            curl(&token, "/api/v1/namespaces", false),
            format!("200 {version}")
        );
        assert_eq!(
            curl(&token, "/api/v1/namespaces/default/configmaps", true),
            format!("413 {version}"),
            "{flag}"
        );
        assert_eq!(
            curl("wrong", "/api/v1/namespaces/default/configmaps", true),
            format!("401 {version}"),
            "{flag}"
        );
    }
}
