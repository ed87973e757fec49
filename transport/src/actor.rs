//! The endpoint as a supervised actor: it owns the process's quinn endpoint, binds it
//! when started, closes it when stopped, and fails (so its supervisor rebinds it with
//! backoff) when binding fails. Other actors ask it for a cloned [`Endpoint`] handle —
//! the handle is cheap and thread-safe, so calls and streams do not pass through this
//! actor's mailbox.

use actix::prelude::*;

use crate::endpoint::{Endpoint, EndpointConfig};
use crate::identity::{Identity, MemberName};
use crate::metrics::EndpointMetrics;
use crate::service::Router;
use crate::supervise::ChildLink;

/// Builds the router of services this endpoint serves; called at every (re)start.
pub type RouterFactory = Box<dyn Fn() -> Router + Send>;

/// The actor owning one endpoint.
pub struct EndpointActor {
    identity: Identity,
    config: EndpointConfig,
    routes: RouterFactory,
    link: ChildLink,
    endpoint: Option<Endpoint>,
}

impl EndpointActor {
    pub fn new(
        identity: Identity,
        config: EndpointConfig,
        routes: RouterFactory,
        link: ChildLink,
    ) -> Self {
        EndpointActor {
            identity,
            config,
            routes,
            link,
            endpoint: None,
        }
    }
}

impl Actor for EndpointActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        match Endpoint::bind(&self.identity, self.config.clone(), (self.routes)()) {
            Ok(ep) => {
                tracing::info!(member = %ep.name(), addr = ?ep.local_addr().ok(), "endpoint up");
                self.endpoint = Some(ep);
            }
            Err(e) => self
                .link
                .fail::<Self>(ctx, format!("binding the endpoint: {e}")),
        }
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        if let Some(ep) = self.endpoint.take() {
            actix::spawn(async move { ep.close().await });
        }
    }
}

/// Asks for a handle on the endpoint (None while it is not bound).
#[derive(Message)]
#[rtype(result = "Option<Endpoint>")]
pub struct GetEndpoint;

impl Handler<GetEndpoint> for EndpointActor {
    type Result = Option<Endpoint>;

    fn handle(&mut self, _: GetEndpoint, _: &mut Context<Self>) -> Self::Result {
        self.endpoint.clone()
    }
}

/// Makes a peer known (or moves it to a new address).
#[derive(Message)]
#[rtype(result = "()")]
pub struct AddPeer {
    pub name: MemberName,
    pub addr: std::net::SocketAddr,
}

impl Handler<AddPeer> for EndpointActor {
    type Result = ();

    fn handle(&mut self, msg: AddPeer, _: &mut Context<Self>) {
        if let Some(ep) = &self.endpoint {
            ep.add_peer(msg.name, msg.addr);
        }
    }
}

/// Reads the endpoint's connection counters and gauges.
#[derive(Message)]
#[rtype(result = "Option<EndpointMetrics>")]
pub struct GetMetrics;

impl Handler<GetMetrics> for EndpointActor {
    type Result = Option<EndpointMetrics>;

    fn handle(&mut self, _: GetMetrics, _: &mut Context<Self>) -> Self::Result {
        self.endpoint.as_ref().map(|e| e.metrics())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use parking_lot::Mutex;

    use super::*;
    use crate::identity::{ClusterCa, Role};
    use crate::supervise::{ChildStatus, GetChildren, RestartPolicy, StartChild, Supervisor};

    const POLL: Duration = Duration::from_millis(5);

    fn identity(name: &str) -> Identity {
        let ca = ClusterCa::generate().expect("ca");
        ca.issue(&MemberName::new(name).expect("name"), Role::Member)
            .expect("identity")
    }

    /// The actor binds on start and hands out a working handle; an endpoint whose
    /// address is taken fails, and its supervisor keeps retrying with backoff.
    #[actix_rt::test]
    async fn endpoint_actor_binds_on_start_and_fails_to_its_supervisor_when_it_cannot() {
        let link = ChildLink::detached("ep");
        let cfg = EndpointConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            ..EndpointConfig::default()
        };
        let actor = EndpointActor::new(identity("a"), cfg, Box::new(Router::new), link).start();
        let ep = actor
            .send(GetEndpoint)
            .await
            .expect("mailbox")
            .expect("bound");
        let taken = ep.local_addr().expect("addr");
        assert!(actor.send(GetMetrics).await.expect("mailbox").is_some());

        let policy = RestartPolicy {
            max_restarts: 100,
            window: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        };
        let sup = Supervisor::new("member", policy).start();
        let started = Arc::new(Mutex::new(0u32));
        let s = started.clone();
        sup.do_send(StartChild {
            name: "endpoint".into(),
            start: Box::new(move |link| {
                *s.lock() += 1;
                let cfg = EndpointConfig {
                    listen: taken,
                    ..EndpointConfig::default()
                };
                EndpointActor::new(identity("b"), cfg, Box::new(Router::new), link).start();
            }),
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let kids = sup.send(GetChildren).await.expect("supervisor");
            // A restart is counted when it is scheduled and started after its backoff:
            // wait for the third start itself, not only for the second count.
            if kids.first().is_some_and(|c: &ChildStatus| c.restarts >= 2) && *started.lock() >= 3 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the failing endpoint was not restarted: {kids:?}"
            );
            tokio::time::sleep(POLL).await;
        }
        drop(ep);
    }
}
