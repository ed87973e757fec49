//! Watch fan-out at the REST edge: one store watch per resource type feeds every
//! HTTP watcher of that type, and each event is encoded to JSON once, its bytes
//! shared by every watcher that asks for the same format.
//!
//! A [`Hub`] per resource type lists the type once (to learn each object's labels and
//! selectable fields), then watches it from that revision with bookmarks. Every
//! event goes into a bounded ring of [`SharedEvent`]s. A watcher is a cursor into
//! the ring plus its own filter (namespace, label and field selector, the revision
//! it starts after): it decides per event whether it sees it and as what type, the
//! way the storage layer does (ADDED when an object starts to match its selector,
//! DELETED when it stops), using the previous labels and fields the hub remembers.
//! The event's object JSON is encoded lazily, once, by whichever watcher needs it
//! first; so is the whole line for each (format, type).
//!
//! The ring is also each watcher's queue, so memory is bounded by the ring, not by
//! the number or speed of watchers. A watcher that falls more than the ring's
//! capacity behind (a slow client) has lost events it was owed: its stream ends
//! right after the last event it did receive, without an error, and the client
//! resumes from the last resourceVersion it saw, as client-go's reflector does when
//! a watch ends. Kubernetes' cacher does the same to an unresponsive watcher. A
//! resume that the ring still covers is served from it; an older one gets its own
//! store watch ([`super::watch`]), which catches up or answers 410 Expired.
//!
//! A hub with no watcher for a while stops, as does one whose store watch ends (a
//! compaction overtook it, the member is stopping): its watchers' streams end and
//! their clients resume, on a fresh hub.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use super::handlers::now;
use super::table::{self, IncludeObject};
use crate::api::object::ResourceInfo;
use crate::api::Object;
use crate::apiserver::envelope::{envelope_of, Envelope, Selection};
use crate::apiserver::{ApiClient, ApiError, ApiResult, ListOptions, WatchEvent, WatchOptions};

/// How often an idle hub checks whether anyone still watches.
const IDLE_CHECK: Duration = Duration::from_secs(30);
/// Page size of a hub's initial list.
const LIST_PAGE: u64 = 500;
/// At most this many events are taken from the ring at once.
const BATCH: usize = 64;

/// The type of a watch event, as a watcher sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `ADDED`.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }

    fn index(self) -> usize {
        match self {
            EventType::Added => 0,
            EventType::Modified => 1,
            EventType::Deleted => 2,
        }
    }
}

/// How a watcher wants its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Objects as JSON.
    Json,
    /// One-row Tables (after the first event, which carries the columns and is
    /// encoded for its watcher alone).
    Table(IncludeObject),
    /// Objects as JSON at an alternate version of the hub's kind (a hub's kind has
    /// at most one, [`crate::api::convert::ALTERNATE_VERSIONS`]).
    Served(&'static ResourceInfo),
}

impl Format {
    fn index(self) -> usize {
        match self {
            Format::Json => 0,
            Format::Table(IncludeObject::None) => 1,
            Format::Table(IncludeObject::Metadata) => 2,
            Format::Table(IncludeObject::Object) => 3,
            Format::Served(_) => 4,
        }
    }
}

const LINES: usize = 5 * 3;

/// One change of one object, shared by every watcher of its hub.
#[derive(Debug)]
pub struct ObjectEvent {
    /// The type the store watch gave it (no selector).
    pub ty: EventType,
    /// The object's labels and selectable fields now (for a delete: last seen).
    pub now: Envelope,
    /// Its labels and fields before this event, if the hub knew the object.
    pub prev: Option<Envelope>,
    /// The object as JSON, with its kind and resourceVersion.
    pub object: Value,
    json: OnceLock<Bytes>,
    lines: [OnceLock<Bytes>; LINES],
    encoded: AtomicU64,
}

/// One entry of a hub's ring.
#[derive(Debug)]
pub enum SharedEvent {
    /// An object changed.
    Object(Box<ObjectEvent>),
    /// Every event up to `rv` has been delivered; the line is the BOOKMARK event.
    Bookmark(Bytes),
}

/// An entry with its revision.
#[derive(Debug)]
pub struct Entry {
    /// The revision of the event (or bookmark).
    pub rv: u64,
    /// The event.
    pub event: SharedEvent,
}

/// Counts object encodings (one per event and format), for tests and metrics.
static ENCODES: AtomicU64 = AtomicU64::new(0);

/// How many objects the fan-out has encoded since the process started.
pub fn encodes() -> u64 {
    ENCODES.load(Ordering::Relaxed)
}

/// `{"type":<ty>,"object":<object>}` and a newline, from already encoded object bytes.
fn line_from(ty: &str, object: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(ty.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

impl ObjectEvent {
    /// An event for `object` (already with its type meta and resourceVersion).
    pub fn new(ty: EventType, now: Envelope, prev: Option<Envelope>, object: Value) -> Self {
        ObjectEvent {
            ty,
            now,
            prev,
            object,
            json: OnceLock::new(),
            lines: Default::default(),
            encoded: AtomicU64::new(0),
        }
    }

    /// The object's JSON bytes, encoded on first use.
    fn json(&self) -> &Bytes {
        self.json.get_or_init(|| {
            ENCODES.fetch_add(1, Ordering::Relaxed);
            self.encoded.fetch_add(1, Ordering::Relaxed);
            Bytes::from(serde_json::to_vec(&self.object).unwrap_or_else(|_| b"{}".to_vec()))
        })
    }

    /// The whole event line in `format` as type `ty`, encoded on first use and
    /// shared afterwards.
    pub fn line(&self, info: &ResourceInfo, format: Format, ty: EventType) -> Bytes {
        self.lines[format.index() * 3 + ty.index()]
            .get_or_init(|| match format {
                Format::Json => line_from(ty.as_str(), self.json()),
                Format::Served(served) => {
                    ENCODES.fetch_add(1, Ordering::Relaxed);
                    self.encoded.fetch_add(1, Ordering::Relaxed);
                    let shown = crate::api::convert::to_served(served, self.object.clone());
                    let body = serde_json::to_vec(&shown).unwrap_or_else(|_| b"{}".to_vec());
                    line_from(ty.as_str(), &body)
                }
                Format::Table(include) => {
                    ENCODES.fetch_add(1, Ordering::Relaxed);
                    self.encoded.fetch_add(1, Ordering::Relaxed);
                    let mut t = self.table(info, include);
                    t["columnDefinitions"] = json!([]);
                    let body = serde_json::to_vec(&t).unwrap_or_else(|_| b"{}".to_vec());
                    line_from(ty.as_str(), &body)
                }
            })
            .clone()
    }

    /// How many times this event's object has been encoded (once per format used).
    pub fn encoded(&self) -> u64 {
        self.encoded.load(Ordering::Relaxed)
    }

    /// This event alone as the first line of a Table watch (with the columns).
    pub fn first_table_line(
        &self,
        info: &ResourceInfo,
        include: IncludeObject,
        ty: EventType,
    ) -> Bytes {
        let t = self.table(info, include);
        line_from(
            ty.as_str(),
            &serde_json::to_vec(&t).unwrap_or_else(|_| b"{}".to_vec()),
        )
    }

    fn table(&self, info: &ResourceInfo, include: IncludeObject) -> Value {
        let rv = self
            .object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        table::table(
            info,
            std::slice::from_ref(&self.object),
            now(),
            include,
            &rv,
            "",
        )
    }
}

/// What one watcher selects from a hub.
#[derive(Debug, Clone)]
pub struct Filter {
    /// Only this namespace (`None`: all).
    pub namespace: Option<String>,
    /// Label and field selectors.
    pub selection: Selection,
    /// Only events after this revision.
    pub after: u64,
    /// Whether bookmarks are delivered.
    pub bookmarks: bool,
}

impl Filter {
    /// The type this watcher sees `e` as, or `None` if it does not see it.
    pub fn decide(&self, e: &ObjectEvent) -> Option<EventType> {
        if let Some(ns) = &self.namespace {
            if e.now.namespace != *ns {
                return None;
            }
        }
        if self.selection.is_everything() {
            return Some(e.ty);
        }
        let is = self.selection.matches_envelope(&e.now);
        match e.ty {
            EventType::Added => is.then_some(EventType::Added),
            EventType::Deleted => is.then_some(EventType::Deleted),
            EventType::Modified => {
                let was = e
                    .prev
                    .as_ref()
                    .is_some_and(|p| self.selection.matches_envelope(p));
                match (was, is) {
                    (true, true) => Some(EventType::Modified),
                    (false, true) => Some(EventType::Added),
                    (true, false) => Some(EventType::Deleted),
                    (false, false) => None,
                }
            }
        }
    }
}

struct Ring {
    entries: VecDeque<Arc<Entry>>,
    /// The sequence number of `entries[0]`.
    first_seq: u64,
    /// Every event after this revision is in the ring or still to come.
    base_rv: u64,
    /// The newest revision the hub has seen.
    rv: u64,
    /// Whether the hub has listed and started watching.
    ready: bool,
    /// Why the hub stopped, once it has.
    closed: Option<String>,
}

/// The fan-out of one resource type.
pub struct Hub {
    info: &'static ResourceInfo,
    capacity: usize,
    ring: Mutex<Ring>,
    changed: tokio::sync::watch::Sender<u64>,
    watchers: AtomicUsize,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("resource", &self.info.plural)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Where a watcher is in its hub's ring.
#[derive(Debug)]
pub enum Next {
    /// Events to look at, in order.
    Events(Vec<Arc<Entry>>),
    /// The watcher fell behind by more than the ring holds: end its stream.
    Overflow,
    /// The hub stopped: end the stream (the client resumes).
    Closed,
}

/// Why a watcher could not join a hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinError {
    /// The start revision is older than the ring; watch the store directly.
    TooOld,
    /// The hub has stopped.
    Closed,
}

impl Hub {
    /// An empty hub for `info` holding up to `capacity` events, not yet ready.
    pub fn new(info: &'static ResourceInfo, capacity: usize) -> Arc<Hub> {
        Arc::new(Hub {
            info,
            capacity: capacity.max(1),
            ring: Mutex::new(Ring {
                entries: VecDeque::new(),
                first_seq: 0,
                base_rv: 0,
                rv: 0,
                ready: false,
                closed: None,
            }),
            changed: tokio::sync::watch::channel(0).0,
            watchers: AtomicUsize::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// Marks the hub ready at revision `rv` (its list's): events after it follow.
    pub fn start(&self, rv: u64) {
        {
            let mut r = self.lock();
            r.base_rv = rv;
            r.rv = rv;
            r.ready = true;
        }
        self.bump();
    }

    /// Stops the hub; watchers' streams end once they have read what is queued.
    pub fn close(&self, why: impl Into<String>) {
        {
            let mut r = self.lock();
            if r.closed.is_none() {
                r.closed = Some(why.into());
            }
        }
        self.bump();
    }

    /// Whether the hub has stopped.
    pub fn is_closed(&self) -> bool {
        self.lock().closed.is_some()
    }

    /// Appends an event at revision `rv`, dropping the oldest beyond capacity.
    pub fn push(&self, rv: u64, event: SharedEvent) {
        {
            let mut r = self.lock();
            if r.entries.len() >= self.capacity {
                if let Some(old) = r.entries.pop_front() {
                    r.first_seq += 1;
                    r.base_rv = r.base_rv.max(old.rv);
                }
            }
            r.entries.push_back(Arc::new(Entry { rv, event }));
            r.rv = r.rv.max(rv);
        }
        self.bump();
    }

    /// Waits until the hub has listed (or stopped).
    pub async fn ready(&self) -> Result<(), JoinError> {
        let mut rx = self.changed.subscribe();
        loop {
            rx.borrow_and_update();
            {
                let r = self.lock();
                if r.closed.is_some() {
                    return Err(JoinError::Closed);
                }
                if r.ready {
                    return Ok(());
                }
            }
            if rx.changed().await.is_err() {
                return Err(JoinError::Closed);
            }
        }
    }

    /// A cursor for a watcher that wants every event after revision `after`
    /// (`None`: only events from now on). The hub must be ready.
    pub fn join(self: &Arc<Hub>, after: Option<u64>) -> Result<Cursor, JoinError> {
        let r = self.lock();
        if r.closed.is_some() || !r.ready {
            return Err(JoinError::Closed);
        }
        let end = r.first_seq + r.entries.len() as u64;
        let seq = match after {
            None => end,
            Some(n) if n < r.base_rv => return Err(JoinError::TooOld),
            Some(n) => {
                let skip = r.entries.partition_point(|e| e.rv <= n);
                r.first_seq + skip as u64
            }
        };
        drop(r);
        self.watchers.fetch_add(1, Ordering::Relaxed);
        Ok(Cursor {
            hub: self.clone(),
            seq,
            rx: self.changed.subscribe(),
        })
    }

    /// The number of watchers joined now.
    pub fn watchers(&self) -> usize {
        self.watchers.load(Ordering::Relaxed)
    }

    /// The resource this hub serves.
    pub fn info(&self) -> &'static ResourceInfo {
        self.info
    }
}

/// One watcher's place in a hub's ring.
#[derive(Debug)]
pub struct Cursor {
    hub: Arc<Hub>,
    seq: u64,
    rx: tokio::sync::watch::Receiver<u64>,
}

impl Drop for Cursor {
    fn drop(&mut self) {
        self.hub.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Cursor {
    /// The next events, waiting for some if there are none yet.
    pub async fn next(&mut self) -> Next {
        loop {
            self.rx.borrow_and_update();
            {
                let r = self.hub.lock();
                if self.seq < r.first_seq {
                    return Next::Overflow;
                }
                let end = r.first_seq + r.entries.len() as u64;
                if self.seq < end {
                    let from = usize::try_from(self.seq - r.first_seq).unwrap_or(usize::MAX);
                    let batch: Vec<Arc<Entry>> =
                        r.entries.iter().skip(from).take(BATCH).cloned().collect();
                    self.seq += batch.len() as u64;
                    return Next::Events(batch);
                }
                if r.closed.is_some() {
                    return Next::Closed;
                }
            }
            if self.rx.changed().await.is_err() {
                return Next::Closed;
            }
        }
    }

    /// The hub.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }
}

/// The hubs of one REST server, by resource type, started on first use.
pub struct Fanout {
    client: Arc<dyn ApiClient>,
    capacity: usize,
    hubs: Mutex<HashMap<(&'static str, &'static str), Arc<Hub>>>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Fanout {
    /// Hubs over `client`, each holding up to `capacity` events per resource.
    pub fn new(client: Arc<dyn ApiClient>, capacity: usize) -> Arc<Fanout> {
        Arc::new(Fanout {
            client,
            capacity: capacity.max(1),
            hubs: Mutex::new(HashMap::new()),
        })
    }

    fn hubs(&self) -> std::sync::MutexGuard<'_, HashMap<(&'static str, &'static str), Arc<Hub>>> {
        self.hubs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The running hub of `info`, started (and waited for) if there is none.
    pub async fn hub(self: &Arc<Fanout>, info: &'static ResourceInfo) -> ApiResult<Arc<Hub>> {
        let key = (info.group, info.plural);
        let hub = {
            let mut hubs = self.hubs();
            match hubs.get(&key) {
                Some(h) if !h.is_closed() => h.clone(),
                _ => {
                    let h = Hub::new(info, self.capacity);
                    hubs.insert(key, h.clone());
                    let me = Arc::downgrade(self);
                    let run = run_hub(me, self.client.clone(), h.clone());
                    actix_web::rt::spawn(run);
                    h
                }
            }
        };
        match hub.ready().await {
            Ok(()) => Ok(hub),
            Err(_) => Err(ApiError::Unavailable {
                message: format!(
                    "the watch of {} could not be started: {}",
                    info.plural,
                    hub.lock().closed.clone().unwrap_or_default()
                ),
            }),
        }
    }

    fn remove(&self, hub: &Arc<Hub>) {
        let key = (hub.info.group, hub.info.plural);
        let mut hubs = self.hubs();
        if hubs.get(&key).is_some_and(|h| Arc::ptr_eq(h, hub)) {
            hubs.remove(&key);
        }
    }
}

/// The object JSON of `o` with its kind and the envelope selectors read.
fn prepare(info: &ResourceInfo, o: &Object) -> ApiResult<(Value, Envelope)> {
    let mut o = o.clone();
    o.set_type_meta();
    let value = o
        .to_json_value()
        .map_err(|e| ApiError::internal(format!("encoding a watch event: {e}")))?;
    let mut env = envelope_of(info, &value)?;
    env.json = Vec::new();
    Ok((value, env))
}

fn key_of(env: &Envelope) -> (String, String) {
    (env.namespace.clone(), env.name.clone())
}

/// A hub's life: list, then watch and push every event, until its store watch ends
/// or nobody has watched for a while.
async fn run_hub(fanout: Weak<Fanout>, client: Arc<dyn ApiClient>, hub: Arc<Hub>) {
    /// Closes and unregisters the hub however its task ends, even dropped or
    /// unwound, so that no watcher waits on a hub nobody feeds.
    struct Stop {
        fanout: Weak<Fanout>,
        hub: Arc<Hub>,
        why: String,
    }
    impl Drop for Stop {
        fn drop(&mut self) {
            tracing::debug!(resource = self.hub.info.plural, reason = %self.why, "REST watch hub stopped");
            if let Some(f) = self.fanout.upgrade() {
                f.remove(&self.hub);
            }
            self.hub.close(std::mem::take(&mut self.why));
        }
    }
    let mut stop = Stop {
        fanout,
        hub: hub.clone(),
        why: "the hub's task was dropped".into(),
    };
    stop.why = match feed(&client, &hub).await {
        Ok(why) => why,
        Err(e) => format!("{e}"),
    };
}

async fn feed(client: &Arc<dyn ApiClient>, hub: &Arc<Hub>) -> ApiResult<String> {
    let info = hub.info;
    let mut known: HashMap<(String, String), Envelope> = HashMap::new();
    let mut continue_ = String::new();
    let mut rv = String::new();
    loop {
        let page = client
            .list(
                info,
                "",
                ListOptions {
                    limit: LIST_PAGE,
                    continue_: continue_.clone(),
                    ..ListOptions::default()
                },
            )
            .await?;
        if rv.is_empty() {
            rv = page.resource_version.clone();
        }
        for o in &page.items {
            let (_, env) = prepare(info, o)?;
            known.insert(key_of(&env), env);
        }
        if page.continue_.is_empty() {
            break;
        }
        continue_ = page.continue_;
    }
    let start: u64 = rv
        .parse()
        .map_err(|_| ApiError::internal(format!("the list answered resourceVersion {rv:?}")))?;
    let mut events = client
        .watch(
            info,
            "",
            WatchOptions {
                resource_version: rv.clone(),
                allow_bookmarks: true,
                ..WatchOptions::default()
            },
        )
        .await?;
    hub.start(start);
    tracing::debug!(
        resource = info.plural,
        rv = start,
        objects = known.len(),
        "REST watch hub started"
    );
    let bookmark = |rv: &str| {
        let object = json!({
            "kind": info.kind,
            "apiVersion": info.api_version(),
            "metadata": {"resourceVersion": rv},
        });
        line_from("BOOKMARK", object.to_string().as_bytes())
    };
    let mut idle_ticks = 0;
    let mut tick = tokio::time::interval(IDLE_CHECK);
    tick.tick().await;
    loop {
        tokio::select! {
            event = events.next() => {
                let (ty, object) = match event {
                    None => return Ok("the store watch ended".into()),
                    Some(Err(e)) => return Ok(format!("the store watch ended: {e}")),
                    Some(Ok(WatchEvent::Bookmark { resource_version })) => {
                        let rv = resource_version.parse::<u64>().unwrap_or(0);
                        hub.push(rv, SharedEvent::Bookmark(bookmark(&resource_version)));
                        continue;
                    }
                    Some(Ok(WatchEvent::Added(o))) => (EventType::Added, o),
                    Some(Ok(WatchEvent::Modified(o))) => (EventType::Modified, o),
                    Some(Ok(WatchEvent::Deleted(o))) => (EventType::Deleted, o),
                };
                let rv = object.metadata().resource_version.parse::<u64>().unwrap_or(0);
                let (value, env) = prepare(info, &object)?;
                let key = key_of(&env);
                let prev = if ty == EventType::Deleted {
                    known.remove(&key)
                } else {
                    known.insert(key, env.clone())
                };
                hub.push(rv, SharedEvent::Object(Box::new(ObjectEvent::new(ty, env, prev, value))));
            }
            _ = tick.tick() => {
                if hub.watchers() == 0 {
                    idle_ticks += 1;
                    if idle_ticks >= 2 {
                        return Ok("no watcher left".into());
                    }
                } else {
                    idle_ticks = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::object::CONFIG_MAP;

    fn cm(name: &str, ns: &str, app: &str, rv: u64) -> (Value, Envelope) {
        let value = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": rv.to_string(),
                         "labels": {"app": app}},
            "data": {"k": "v"},
        });
        let env = envelope_of(&CONFIG_MAP, &value).expect("an envelope");
        (value, env)
    }

    fn push(hub: &Hub, ty: EventType, name: &str, app: &str, prev: Option<&str>, rv: u64) {
        let (value, env) = cm(name, "shop", app, rv);
        let prev = prev.map(|a| cm(name, "shop", a, rv - 1).1);
        hub.push(
            rv,
            SharedEvent::Object(Box::new(ObjectEvent::new(ty, env, prev, value))),
        );
    }

    fn filter(labels: &str) -> Filter {
        Filter {
            namespace: Some("shop".into()),
            selection: Selection::parse(&CONFIG_MAP, labels, "").expect("a selector"),
            after: 0,
            bookmarks: false,
        }
    }

    async fn lines(cursor: &mut Cursor, filter: &Filter) -> Vec<Bytes> {
        let Next::Events(batch) = cursor.next().await else {
            return Vec::new();
        };
        batch
            .iter()
            .filter_map(|e| match &e.event {
                SharedEvent::Object(o) => filter
                    .decide(o)
                    .map(|ty| o.line(&CONFIG_MAP, Format::Json, ty)),
                SharedEvent::Bookmark(_) => None,
            })
            .collect()
    }

    /// Two JSON watchers of one resource get byte-identical lines that are the very
    /// same bytes, and each event's object is encoded exactly once.
    #[tokio::test]
    async fn each_event_is_encoded_once_for_every_watcher() {
        let hub = Hub::new(&CONFIG_MAP, 16);
        hub.start(1);
        let mut a = hub.join(None).expect("joins");
        let mut b = hub.join(None).expect("joins");
        push(&hub, EventType::Added, "c1", "web", None, 2);
        push(&hub, EventType::Modified, "c1", "web", Some("web"), 3);
        push(&hub, EventType::Deleted, "c1", "web", Some("web"), 4);
        let f = filter("");
        let la = lines(&mut a, &f).await;
        let lb = lines(&mut b, &f).await;
        assert_eq!(la.len(), 3);
        assert_eq!(la, lb);
        for (x, y) in la.iter().zip(&lb) {
            assert_eq!(x.as_ptr(), y.as_ptr(), "the same bytes, not a copy");
        }
        let mut again = hub.join(Some(1)).expect("the ring covers it");
        let Next::Events(entries) = again.next().await else {
            panic!("the ring holds the events");
        };
        for e in &entries {
            if let SharedEvent::Object(o) = &e.event {
                assert_eq!(o.encoded(), 1, "one encoding per event for two watchers");
            }
        }
        let first: Value = serde_json::from_slice(&la[0]).expect("json");
        assert_eq!(first["type"], "ADDED");
        assert_eq!(first["object"]["metadata"]["name"], "c1");
        assert_eq!(event_types(&la), ["ADDED", "MODIFIED", "DELETED"]);
    }

    /// The `type` of each watch event line.
    fn event_types(lines: &[Bytes]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                serde_json::from_slice::<Value>(l).expect("json")["type"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    }

    /// The encoder runs once per event however many watchers read it.
    #[test]
    fn the_encoder_runs_once_per_event() {
        let (value, env) = cm("c9", "shop", "web", 9);
        let e = ObjectEvent::new(EventType::Modified, env, None, value);
        assert!(e.json.get().is_none());
        assert_eq!(e.encoded(), 0);
        let lines: Vec<Bytes> = (0..10)
            .map(|_| e.line(&CONFIG_MAP, Format::Json, EventType::Modified))
            .collect();
        assert!(lines.windows(2).all(|w| w[0].as_ptr() == w[1].as_ptr()));
        // The object bytes were made once and reused for another type's line.
        let json_ptr = e.json().as_ptr();
        let added = e.line(&CONFIG_MAP, Format::Json, EventType::Added);
        assert_eq!(e.json().as_ptr(), json_ptr);
        assert_eq!(e.encoded(), 1);
        assert!(added.starts_with(b"{\"type\":\"ADDED\",\"object\":{"));
    }

    /// Under a label selector an object that starts matching is ADDED, one that
    /// stops is DELETED, others are not seen; other namespaces are not seen.
    #[tokio::test]
    async fn selector_transitions_are_typed_as_storage_types_them() {
        let hub = Hub::new(&CONFIG_MAP, 16);
        hub.start(1);
        let mut c = hub.join(None).expect("joins");
        push(&hub, EventType::Added, "c1", "db", None, 2);
        push(&hub, EventType::Modified, "c1", "web", Some("db"), 3);
        push(&hub, EventType::Modified, "c1", "web", Some("web"), 4);
        push(&hub, EventType::Modified, "c1", "db", Some("web"), 5);
        let (value, env) = cm("c2", "other", "web", 6);
        hub.push(
            6,
            SharedEvent::Object(Box::new(ObjectEvent::new(
                EventType::Added,
                env,
                None,
                value,
            ))),
        );
        let f = filter("app=web");
        let got = lines(&mut c, &f).await;
        assert_eq!(event_types(&got), ["ADDED", "MODIFIED", "DELETED"]);
    }

    /// A watcher that falls further behind than the ring holds is told to end
    /// (and is given nothing after the gap); a fast one carries on.
    #[tokio::test]
    async fn a_slow_watcher_is_ended_not_buffered() {
        let hub = Hub::new(&CONFIG_MAP, 4);
        hub.start(1);
        let mut slow = hub.join(None).expect("joins");
        let mut fast = hub.join(None).expect("joins");
        for rv in 2..=7 {
            push(&hub, EventType::Added, &format!("c{rv}"), "web", None, rv);
            assert!(matches!(fast.next().await, Next::Events(b) if b.len() == 1));
        }
        assert!(matches!(slow.next().await, Next::Overflow));
        push(&hub, EventType::Added, "c8", "web", None, 8);
        assert!(matches!(fast.next().await, Next::Events(b) if b[0].rv == 8));
    }

    /// A watcher resuming from a revision the ring covers replays from there; an
    /// older one is refused (it watches the store itself); after close, streams end.
    #[tokio::test]
    async fn resumes_are_served_from_the_ring_or_refused() {
        let hub = Hub::new(&CONFIG_MAP, 3);
        hub.start(10);
        assert_eq!(hub.join(Some(9)).err(), Some(JoinError::TooOld));
        for rv in 11..=14 {
            push(&hub, EventType::Added, &format!("c{rv}"), "web", None, rv);
        }
        // 11 was evicted: resuming after 10 would miss it.
        assert_eq!(hub.join(Some(10)).err(), Some(JoinError::TooOld));
        let mut c = hub.join(Some(12)).expect("covered");
        match c.next().await {
            Next::Events(b) => assert_eq!(b.iter().map(|e| e.rv).collect::<Vec<_>>(), [13, 14]),
            other => panic!("expected events, got {other:?}"),
        }
        hub.close("test");
        assert!(matches!(c.next().await, Next::Closed));
        assert_eq!(hub.join(None).err(), Some(JoinError::Closed));
    }

    /// A fake API with one list answer and one watch fed by the test.
    struct Fake {
        list: crate::apiserver::ObjectList,
        watch: Mutex<Option<futures::channel::mpsc::UnboundedReceiver<ApiResult<WatchEvent>>>>,
    }

    fn unsupported<'a, T: Send + 'a>() -> futures::future::BoxFuture<'a, ApiResult<T>> {
        Box::pin(async { Err(ApiError::internal("not in this fake")) })
    }

    impl ApiClient for Fake {
        fn get<'a>(
            &'a self,
            _: &'static ResourceInfo,
            _: &'a str,
            _: &'a str,
            _: crate::apiserver::GetOptions,
        ) -> futures::future::BoxFuture<'a, ApiResult<Object>> {
            unsupported()
        }
        fn list<'a>(
            &'a self,
            _: &'static ResourceInfo,
            _: &'a str,
            _: ListOptions,
        ) -> futures::future::BoxFuture<'a, ApiResult<crate::apiserver::ObjectList>> {
            let list = self.list.clone();
            Box::pin(async move { Ok(list) })
        }
        fn watch<'a>(
            &'a self,
            _: &'static ResourceInfo,
            _: &'a str,
            opts: WatchOptions,
        ) -> futures::future::BoxFuture<'a, ApiResult<crate::apiserver::WatchStream>> {
            let rx = self.watch.lock().ok().and_then(|mut w| w.take());
            Box::pin(async move {
                assert_eq!(opts.resource_version, "5", "the hub watches from its list");
                assert!(opts.allow_bookmarks);
                rx.map(crate::apiserver::WatchStream::new)
                    .ok_or_else(|| ApiError::internal("the fake watches once"))
            })
        }
        fn create<'a>(
            &'a self,
            _: Object,
            _: crate::apiserver::WriteOptions,
        ) -> futures::future::BoxFuture<'a, ApiResult<Object>> {
            unsupported()
        }
        fn update<'a>(
            &'a self,
            _: Object,
            _: crate::apiserver::WriteOptions,
        ) -> futures::future::BoxFuture<'a, ApiResult<Object>> {
            unsupported()
        }
        fn update_status<'a>(
            &'a self,
            _: Object,
            _: crate::apiserver::WriteOptions,
        ) -> futures::future::BoxFuture<'a, ApiResult<Object>> {
            unsupported()
        }
        fn patch<'a>(
            &'a self,
            _: &'static ResourceInfo,
            _: &'a str,
            _: &'a str,
            _: crate::apiserver::Patch,
            _: crate::apiserver::PatchOptions,
        ) -> futures::future::BoxFuture<'a, ApiResult<Object>> {
            unsupported()
        }
        fn delete<'a>(
            &'a self,
            _: &'static ResourceInfo,
            _: &'a str,
            _: &'a str,
            _: crate::apiserver::DeleteOptions,
        ) -> futures::future::BoxFuture<'a, ApiResult<crate::apiserver::DeleteOutcome>> {
            unsupported()
        }
        fn delete_collection<'a>(
            &'a self,
            _: &'static ResourceInfo,
            _: &'a str,
            _: ListOptions,
            _: crate::apiserver::DeleteOptions,
        ) -> futures::future::BoxFuture<'a, ApiResult<crate::apiserver::ObjectList>> {
            unsupported()
        }
        fn get_scale<'a>(
            &'a self,
            _: &'static ResourceInfo,
            _: &'a str,
            _: &'a str,
        ) -> futures::future::BoxFuture<'a, ApiResult<crate::api::Scale>> {
            unsupported()
        }
        fn update_scale<'a>(
            &'a self,
            _: &'static ResourceInfo,
            _: &'a str,
            _: &'a str,
            _: crate::api::Scale,
            _: crate::apiserver::WriteOptions,
        ) -> futures::future::BoxFuture<'a, ApiResult<crate::api::Scale>> {
            unsupported()
        }
    }

    fn object(name: &str, app: &str, rv: u64) -> Object {
        let mut c = crate::api::core::ConfigMap::default();
        c.metadata.name = name.into();
        c.metadata.namespace = "shop".into();
        c.metadata.labels.insert("app".into(), app.into());
        c.metadata.resource_version = rv.to_string();
        Object::from(c)
    }

    /// A hub lists, then watches from the list's revision; it knows listed objects'
    /// labels, so an object that stops matching a selector is DELETED for that
    /// watcher and one that starts again is ADDED. When its store watch ends the
    /// hub stops, its watchers' streams end, and the next watcher gets a fresh hub
    /// (here refused: the fake watches once).
    #[actix_web::test]
    async fn a_hub_lists_then_watches_and_stops_with_its_store_watch() {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let fake = Fake {
            list: crate::apiserver::ObjectList {
                resource_version: "5".into(),
                items: vec![object("c1", "web", 4)],
                ..Default::default()
            },
            watch: Mutex::new(Some(rx)),
        };
        let fanout = Fanout::new(Arc::new(fake), 16);
        let hub = fanout.hub(&CONFIG_MAP).await.expect("the hub starts");
        let mut c = hub.join(None).expect("joins");
        let f = filter("app=web");
        let mut types = Vec::new();
        for (app, rv) in [("db", 6), ("web", 7)] {
            tx.unbounded_send(Ok(WatchEvent::Modified(object("c1", app, rv))))
                .expect("sent");
            let got = lines(&mut c, &f).await;
            assert_eq!(got.len(), 1, "one line for rv {rv}");
            let e: Value = serde_json::from_slice(&got[0]).expect("json");
            assert_eq!(e["object"]["metadata"]["resourceVersion"], rv.to_string());
            types.push(e["type"].as_str().unwrap_or("").to_owned());
        }
        assert_eq!(types, ["DELETED", "ADDED"]);
        drop(tx);
        assert!(matches!(c.next().await, Next::Closed));
        assert!(fanout.hub(&CONFIG_MAP).await.is_err());
    }
}
