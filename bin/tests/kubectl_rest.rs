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
        let dir = tempfile::Builder::new()
            .prefix("hive-kubectl-test")
            .tempdir()
            .expect("tempdir");
        let log = dir.path().join("server.log");
        let listen = format!("127.0.0.1:{}", free_udp_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_hive"))
            .args(["server", "--name", "m1", "--node-id", "1", "--bootstrap"])
            .args(["--listen", &listen, "--api-listen", "127.0.0.1:0"])
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

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path
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
    let spec = s.kubectl(&[
        "get", "deploy", "web", "-n", "shop", "-o",
        "jsonpath={.spec.template.spec.containers[*].image}|{.spec.template.spec.containers[0].env[*].name}|{.metadata.generation}",
    ]);
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
    let meta = s.kubectl(&[
        "get",
        "deploy",
        "web",
        "-n",
        "shop",
        "-o",
        "jsonpath={.spec.replicas}|{.metadata.labels.tier}|{.metadata.annotations.owner}",
    ]);
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
    assert_eq!(
        s.kubectl(&[
            "get",
            "deploy",
            "web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.replicas}"
        ]),
        "3"
    );

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
    let out = s.kubectl(&["get", "cm", "c1", "-o", "jsonpath={.data.a}"]);
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
