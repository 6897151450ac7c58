//! The gateway's router: a neighbour with a live session is its own next hop; then the
//! operator's static routes; then contact graph routing over the plan files.
//!
//! Ground links (gateway to gateway, to the operations centre) are not scheduled contacts:
//! they are up whenever a session is. Space links are in the plan. One router serves both,
//! so the agent needs no idea which kind of link a bundle leaves on.

use std::collections::BTreeSet;

use dtn_core::routing::router::BookingId;
use dtn_core::routing::{CgrRouter, Contact, Forwarding, NoRoute, NodeId, RouteRequest, Router, StaticRouter};

/// Connected neighbours, static routes, then CGR.
#[derive(Debug)]
pub struct GatewayRouter {
    connected: BTreeSet<NodeId>,
    statics: StaticRouter,
    has_statics: bool,
    cgr: Option<CgrRouter>,
}

impl GatewayRouter {
    /// A router over `routes` (destination, or `None` for the default, → next hop) and an
    /// optional contact plan.
    pub fn new(routes: &[(Option<NodeId>, NodeId)], cgr: Option<CgrRouter>) -> Self {
        let mut statics = StaticRouter::new();
        for &(dest, via) in routes {
            match dest {
                Some(d) => {
                    statics.add(d, via);
                }
                None => {
                    statics.set_default(Some(via));
                }
            }
        }
        GatewayRouter { connected: BTreeSet::new(), statics, has_statics: !routes.is_empty(), cgr }
    }

    /// A session with `node` came up or went down.
    pub fn set_connected(&mut self, node: NodeId, up: bool) {
        if up {
            self.connected.insert(node);
        } else {
            self.connected.remove(&node);
        }
    }

    /// The contact plan, if any.
    pub fn cgr(&self) -> Option<&CgrRouter> {
        self.cgr.as_ref()
    }

    /// Replaces the contact plan (a reload); the caller re-routes what was queued.
    pub fn replace_plan(&mut self, cgr: Option<CgrRouter>) {
        self.cgr = cgr;
    }
}

impl Router for GatewayRouter {
    fn route(&mut self, request: &RouteRequest) -> Result<Forwarding, NoRoute> {
        let direct = request.destination;
        if self.connected.contains(&direct) && request.previous_hop != Some(direct) && !request.avoid.contains(&direct)
        {
            return Ok(Forwarding { next_hop: direct, contact: None, route: None, booking: None, bumped: Vec::new() });
        }
        let mut why = NoRoute::NoKnownRoute;
        if self.has_statics {
            match self.statics.route(request) {
                Ok(f) if !request.avoid.contains(&f.next_hop) => return Ok(f),
                Ok(_) => why = NoRoute::NoTimelyContact,
                Err(e) => why = e,
            }
        }
        match self.cgr.as_mut() {
            Some(cgr) => cgr.route(request),
            None => Err(why),
        }
    }

    fn release(&mut self, booking: BookingId) {
        if let Some(cgr) = self.cgr.as_mut() {
            cgr.release(booking);
        }
    }

    fn add_contacts(&mut self, contacts: &[Contact]) {
        if let Some(cgr) = self.cgr.as_mut() {
            cgr.add_contacts(contacts);
        }
    }

    fn light_time_ms(&self, from: NodeId, to: NodeId) -> Option<u64> {
        self.cgr.as_ref().and_then(|c| c.light_time_ms(from, to))
    }

    fn transferable_bytes(&mut self, request: &RouteRequest) -> Option<u64> {
        self.cgr.as_mut().and_then(|c| c.transferable_bytes(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dtn_core::routing::{PlanTime, Priority};

    fn request(destination: NodeId, previous_hop: Option<NodeId>) -> RouteRequest {
        RouteRequest {
            local: 1,
            destination,
            now: PlanTime(0),
            size: 100,
            priority: Priority::Normal,
            expiry: PlanTime(i64::MAX),
            previous_hop,
            avoid: Vec::new(),
        }
    }

    #[test]
    fn connected_neighbour_then_static_then_nothing() {
        let mut r = GatewayRouter::new(&[(Some(9), 2)], None);
        assert_eq!(r.route(&request(3, None)), Err(NoRoute::NoKnownRoute));
        r.set_connected(3, true);
        assert_eq!(r.route(&request(3, None)).map(|f| f.next_hop), Ok(3));
        // Not straight back to where it came from.
        assert_eq!(r.route(&request(3, Some(3))), Err(NoRoute::NoKnownRoute));
        assert_eq!(r.route(&request(9, None)).map(|f| f.next_hop), Ok(2));
        r.set_connected(3, false);
        assert_eq!(r.route(&request(3, None)), Err(NoRoute::NoKnownRoute));
    }
}
