//! Endpoint identifiers (RFC 9171 section 4.2.5, RFC 9758): the `dtn` and `ipn` schemes and the
//! null endpoint, in text form (`ipn:2.1`, `ipn:977000.1.1`, `dtn://node/svc`, `dtn:none`) and
//! CBOR form (`[scheme, ssp]`).

mod cbor;
mod error;
mod pattern;
mod text;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::hash::{Hash, Hasher};

pub use error::{EidError, EidErrorKind};
pub use pattern::{EidPattern, PatternError};

/// URI scheme code of `dtn` (RFC 9171 9.7).
pub const SCHEME_DTN: u64 = 1;
/// URI scheme code of `ipn` (RFC 9171 9.7).
pub const SCHEME_IPN: u64 = 2;

/// An endpoint identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Eid {
    /// The null endpoint `dtn:none` (CBOR `[1, 0]`).
    Null,
    /// A `dtn` scheme endpoint.
    Dtn(DtnEid),
    /// An `ipn` scheme endpoint.
    Ipn(IpnEid),
    /// A structurally valid EID of an unregistered scheme, kept so the bundle can be forwarded
    /// unchanged; it cannot be routed.
    Unknown {
        /// The scheme code.
        scheme: u64,
        /// The SSP exactly as encoded (one CBOR item).
        ssp: Vec<u8>,
    },
}

impl Eid {
    /// `ipn:node.service` (allocator 0).
    pub fn ipn(node: u32, service: u32) -> Self {
        Eid::Ipn(IpnEid::new(0, node, service))
    }

    /// True for `dtn:none` and its RFC 9758 equivalent `ipn:0.0`.
    pub fn is_null(&self) -> bool {
        match self {
            Eid::Null => true,
            Eid::Ipn(ipn) => ipn.allocator == 0 && ipn.node == 0 && ipn.service == 0,
            _ => false,
        }
    }

    /// The node ID of the node that registers this endpoint: `ipn:A.N.0` or `dtn://node/`.
    pub fn node_id(&self) -> Option<Eid> {
        match self {
            Eid::Ipn(ipn) => Some(Eid::Ipn(IpnEid { service: 0, ..*ipn })),
            Eid::Dtn(dtn) => {
                let mut ssp = String::from("//");
                ssp.push_str(dtn.node_name());
                ssp.push('/');
                Some(Eid::Dtn(DtnEid { ssp }))
            }
            _ => None,
        }
    }

    /// True when this EID is a node ID: `ipn:A.N.0` or a `dtn` EID with an empty demux.
    pub fn is_node_id(&self) -> bool {
        match self {
            Eid::Ipn(ipn) => ipn.service == 0,
            Eid::Dtn(dtn) => dtn.demux().is_empty(),
            _ => false,
        }
    }
}

/// A `dtn` scheme EID other than `dtn:none`: `dtn://node-name/demux`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DtnEid {
    ssp: String,
}

impl DtnEid {
    /// Parses the scheme-specific part (`//node-name/demux`).
    pub fn from_ssp(ssp: &str) -> Result<Self, EidError> {
        text::check_dtn_ssp(ssp, 0)?;
        Ok(DtnEid { ssp: String::from(ssp) })
    }

    /// The scheme-specific part, e.g. `//node/svc`.
    pub fn ssp(&self) -> &str {
        &self.ssp
    }

    /// The node name, between `//` and the next `/`.
    pub fn node_name(&self) -> &str {
        let rest = self.ssp.get(2..).unwrap_or("");
        rest.split('/').next().unwrap_or("")
    }

    /// The demultiplexing token after the node name's `/` (empty for a node ID).
    pub fn demux(&self) -> &str {
        let rest = self.ssp.get(2..).unwrap_or("");
        rest.split_once('/').map(|(_, demux)| demux).unwrap_or("")
    }

    /// False when the demux starts with `~` (a non-singleton endpoint, RFC 9171 4.2.5.1.1).
    pub fn is_singleton(&self) -> bool {
        !self.demux().starts_with('~')
    }
}

/// How an `ipn` EID's SSP is laid out on the wire (RFC 9758 section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum IpnEncoding {
    /// `[FQNN, service]` with FQNN = allocator << 32 | node (RFC 9171 and legacy form).
    #[default]
    TwoElement,
    /// `[allocator, node, service]`.
    ThreeElement,
}

/// An `ipn` scheme EID: allocator, node and service numbers, each 32 bits (RFC 9758).
///
/// Equality, ordering and hashing ignore [`IpnEncoding`]: the two wire forms name one endpoint.
#[derive(Debug, Clone, Copy)]
pub struct IpnEid {
    /// Allocator identifier (0 for the default allocator).
    pub allocator: u32,
    /// Node number.
    pub node: u32,
    /// Service number; 0 is the node's administrative endpoint.
    pub service: u32,
    /// The wire form to emit (kept from the input so a re-encode is byte-identical).
    pub encoding: IpnEncoding,
}

impl IpnEid {
    /// An ipn EID; emitted in the 2-element form for allocator 0, 3-element otherwise.
    pub fn new(allocator: u32, node: u32, service: u32) -> Self {
        let encoding = if allocator == 0 { IpnEncoding::TwoElement } else { IpnEncoding::ThreeElement };
        IpnEid { allocator, node, service, encoding }
    }

    /// The fully-qualified node number: allocator << 32 | node.
    pub fn fqnn(&self) -> u64 {
        (u64::from(self.allocator) << 32) | u64::from(self.node)
    }

    fn key(&self) -> (u32, u32, u32) {
        (self.allocator, self.node, self.service)
    }
}

impl PartialEq for IpnEid {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for IpnEid {}

impl Hash for IpnEid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for IpnEid {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IpnEid {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for Eid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Eid::Null => f.write_str("dtn:none"),
            Eid::Dtn(dtn) => write!(f, "dtn:{}", dtn.ssp),
            Eid::Ipn(ipn) if ipn.allocator == 0 => write!(f, "ipn:{}.{}", ipn.node, ipn.service),
            Eid::Ipn(ipn) => write!(f, "ipn:{}.{}.{}", ipn.allocator, ipn.node, ipn.service),
            Eid::Unknown { scheme, ssp } => {
                write!(f, "scheme-{scheme}:")?;
                ssp.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

#[cfg(test)]
mod tests;
